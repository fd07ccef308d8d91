"""Frontline: contact-center call practice with LLM customers."""
