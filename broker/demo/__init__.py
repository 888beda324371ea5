"""The demo: a family like Child B's, a small partnership directory, and a timeline."""
