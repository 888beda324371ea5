"""The agency package: what an agency's or a recipient's system uses, apart from the broker.

``sdk`` publishes signed, sealed events through Kafka; ``auth`` proves the organisation to the
broker's HTTP APIs; ``receiver`` opens notices; ``webhook_receiver`` takes pushed ones. The
sealing, signing and key handling under them (``crypto``, ``envelopes``, ``recipient_keys``,
``webhook_signatures``, ``broker_keys``, ``pseudonyms``, ``kafka``, ``errors``) are the one
definition the broker uses too. Nothing here imports ``broker``: ``producers/pyproject.toml``
builds this folder and ``schemas`` into an installable package of their own.
"""
