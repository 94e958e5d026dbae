"""What the API and the worker both need to know about notifications, owned by neither:
their wording (`render`, with the Jinja2 `templates/`: the worker mails it, the API's
inbox shows the subjects) and the Standard Webhooks format (`webhook`: secrets and
signatures; the API mints secrets, the worker signs and sends)."""
