"""The portfolio of an organisation: its daily digest (`digest`, pure rules), the hourly
sweep that reconciles the read model and sends the digests (`sweep`:
PortfolioSweepWorkflow), and the delivery of one digest (`digest_workflow`: DigestWorkflow)."""
