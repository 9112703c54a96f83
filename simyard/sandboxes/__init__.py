"""Sandboxes: where repository worlds run agents' commands (`base.Sandbox`; bwrap, docker, local)."""
