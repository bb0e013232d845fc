"""Contacts, satisfaction ratings and the metrics derived from them (issue 5).

``contacts`` keeps one row per contact (what the issue calls the contact outcome);
``contact_events`` is the append-only reporting table every metric is computed from,
written only by :class:`bot.metrics.recorder.ContactEventRecorder`. See docs/metrics.md.
"""
