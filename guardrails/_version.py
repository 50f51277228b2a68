"""The version of guardrails (read by the build and by the OpenTelemetry sink)."""

__version__ = "0.2.0"
