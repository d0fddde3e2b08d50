"""Thin entry points: parse input, call a service, render. No business logic here."""
