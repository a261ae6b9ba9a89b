"""Acme Outfitters' support bot: answers customer questions from the help-center articles."""
