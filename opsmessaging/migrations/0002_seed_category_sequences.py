from django.db import migrations

CATEGORIES = (
    "system",
    "health",
    "metrics",
    "security",
    "audit",
    "alerts",
    "diagnostics",
    "lifecycle",
    "logging",
)


def seed(apps, schema_editor):
    CategorySequence = apps.get_model("opsmessaging", "CategorySequence")
    db = schema_editor.connection.alias
    for category in CATEGORIES:
        CategorySequence.objects.using(db).get_or_create(category=category)


class Migration(migrations.Migration):
    dependencies = [("opsmessaging", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
