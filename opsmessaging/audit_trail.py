"""Audit trail of your own data: ``register(Model, fields=[...])`` and data deletions.

```python
from opsmessaging import audit_trail

audit_trail.register(Invoice, fields=["status", "amount", "customer"])
audit_trail.record_data_deletion("retention:90d", {"category": "metrics", "messages": 1200})
```
"""

from __future__ import annotations

from opsmessaging.capture.data_changes import (
    record_data_deletion,
    register,
    registered_fields,
    unregister,
)

__all__ = ["record_data_deletion", "register", "registered_fields", "unregister"]
