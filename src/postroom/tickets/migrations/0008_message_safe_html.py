# Issue #6 item 7: the HTML sanitised at ingest, stored beside the original.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0007_contact_undeliverable"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="safe_html",
            field=models.TextField(
                blank=True,
                help_text="The HTML sanitised at ingest (postroom.mail.sanitise): no remote content, no tracking pixels.",
                null=True,
            ),
        ),
    ]
