"""Jieba tokenizer that drops whitespace tokens.

Rasa's JiebaTokenizer keeps the spaces between English words as tokens of their own, so
"where is my order" yields seven tokens, three of them " ". Those tokens carry no meaning
and dilute the bag-of-words features of English messages; this subclass removes them.
"""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True
)
class BilingualJiebaTokenizer(JiebaTokenizer):
    """Jieba segmentation for Chinese, word tokens for English, no whitespace tokens."""

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        """Tokenizes the attribute, keeping only tokens with visible characters."""
        tokens = super().tokenize(message, attribute)
        kept = [token for token in tokens if token.text.strip()]
        return kept or tokens
