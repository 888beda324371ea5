"""Attack tests: one per finding of the security review (issue 12), each through the real
interface (HTTP, SDK, Kafka), asserting the refusal, its audit record and that nothing changed."""
