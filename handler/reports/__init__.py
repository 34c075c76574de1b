"""Rendering findings for people and machines; no checking logic lives here."""
