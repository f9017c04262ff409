"""The opsmessaging demo project."""
