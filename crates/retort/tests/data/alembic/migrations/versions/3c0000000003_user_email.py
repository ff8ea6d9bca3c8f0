"""add users.email"""
from alembic import op
import sqlalchemy as sa

revision = "3c0000000003"
down_revision = "1a0000000001"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('users', sa.Column('email', sa.Text))
    op.create_index('users_email', 'users', ['email'])


def downgrade():
    op.drop_index('users_email')
    op.drop_column('users', 'email')
