"""Custom Rasa 3.6 NLU components of the shop bot.

Referenced from ``config.yml`` as ``components.<module>.<Class>`` (the project root is
on ``PYTHONPATH``):

- ``components.language.LanguageDetector`` adds a ``language`` entity (``zh`` / ``en``).
- ``components.spacy_patterns.SpacyPatternExtractor`` adds ``date`` and ``amount``
  entities with normalised values.

``components/jieba_dict/`` is the jieba user dictionary folder for ``JiebaTokenizer``'s
``dictionary_path``.
"""
