"""Conversation gateway: channels, transcripts, handoff queue and the agent inbox."""
