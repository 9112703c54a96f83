"""simyard-demo-plugin: a coin world, an agent that always says heads, and a four-task suite."""
