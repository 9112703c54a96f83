"""The agent SDK's built-in agents and the parts that plug into them (backends, perception, decoding, training)."""
