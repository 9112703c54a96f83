"""Task suites: task files in the real formats plus generators, loaded by name through the registry."""
