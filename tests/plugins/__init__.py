"""Plugin fixtures: a complete third-party package (`demo_plugin/`) that the plugin tests pip-install."""
