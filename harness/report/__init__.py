"""Human-readable renderings of a case's trace for auditors (sequence diagrams)."""
