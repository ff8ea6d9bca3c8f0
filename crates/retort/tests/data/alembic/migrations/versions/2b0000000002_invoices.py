"""billing: invoices

Revision ID: 2b0000000002
"""
from alembic import op
import sqlalchemy as sa

revision: str = '2b0000000002'
down_revision: str | None = None
branch_labels = ('billing',)
depends_on = '1a0000000001'


def upgrade():
    op.create_table('invoices', sa.Column('id', sa.Integer, primary_key=True),
                    sa.Column('user_id', sa.Integer, sa.ForeignKey('users.id')), sa.Column('cents', sa.BigInteger))


def downgrade():
    op.drop_table('invoices')
