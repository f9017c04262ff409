"""Exports of the committed log in the ecosystem's standard formats (Prometheus, OTLP)."""
