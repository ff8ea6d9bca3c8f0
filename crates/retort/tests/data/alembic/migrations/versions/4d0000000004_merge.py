"""merge billing into main

Revision ID: 4d0000000004
Revises: 3c0000000003, 2b0000000002
"""
from alembic import op

revision = '4d0000000004'
down_revision = ('3c0000000003', '2b0000000002')
branch_labels = None
depends_on = None


def upgrade():
    op.execute("CREATE VIEW user_totals AS SELECT u.id, sum(i.cents) AS cents FROM users u LEFT JOIN invoices i ON i.user_id = u.id GROUP BY u.id")


def downgrade():
    op.execute("DROP VIEW user_totals")
