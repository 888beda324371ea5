"""The safeguarding notification broker: events in, whole-family routing, sealed notices out."""
