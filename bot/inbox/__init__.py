"""The agent inbox: sessions, the JSON API, the handoff card and the pages."""
