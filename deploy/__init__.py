"""Deployment helpers of the production profile (PostgreSQL, Redis, several Rasa servers)."""
