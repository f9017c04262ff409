from django.db import migrations


def redact_node_configs(apps, schema_editor):
    """Settings captured before this migration kept SIGNING_KEYS and ENCRYPTION_KEYS in plain text:
    replace them by their fingerprints, as captured settings are now."""
    from opsmessaging.keys import redact  # the one redaction rule, also for old rows

    Node = apps.get_model("opsmessaging", "Node")
    db = schema_editor.connection.alias
    for node in Node.objects.using(db).exclude(config=None).iterator():
        redacted = redact(node.config)
        if redacted != node.config:
            node.config = redacted
            node.save(update_fields=["config"])


class Migration(migrations.Migration):
    dependencies = [
        ("opsmessaging", "0009_monitor_checkin_notification"),
    ]

    operations = [
        migrations.RunPython(redact_node_configs, migrations.RunPython.noop),
    ]
