"""The automation screen's rate window counts one sender's mail in the ledger: `sender` is now filled on every
row (not only quarantined ones), and an index on (tenant, lower(sender), received_at) keeps that count cheap."""

from django.db import migrations, models
from django.db.models.functions import Lower


class Migration(migrations.Migration):
    dependencies = [
        ("inbound", "0004_screening_causes_and_sender_lists"),
    ]

    operations = [
        migrations.AlterField(
            model_name="inboundmessage",
            name="sender",
            field=models.CharField(
                blank=True,
                help_text="The requester's address: the quarantine review and the rate window.",
                max_length=320,
            ),
        ),
        migrations.AddIndex(
            model_name="inboundmessage",
            index=models.Index(
                models.F("tenant"), Lower("sender"), models.F("received_at"), name="inbound_sender_recv_idx"
            ),
        ),
    ]
