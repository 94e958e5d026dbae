"""Notifications: who hears about what (`rules`, pure) and how it reaches them
(`workflow`: NotifyWorkflow; `delivery`: the delivery steps NotifyWorkflow and
DigestWorkflow share)."""
