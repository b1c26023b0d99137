"""Branch services: the devices at the counter and what they start.

Owns: the device hub (`devices`: serial services → masked CardRead / NfcTap / DeviceState events), queue tickets in
SQLite with a transactional outbox (`tickets`), the MQTT staff notifier (`staff`), the branch service that issues
tickets and notifies staff (`service`) and the Prometheus metrics (`metrics`).

May import: `kiosk.core` and `hardware`.
"""
