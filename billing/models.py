"""Usage counters (one table per tenant schema): how much of each capped resource a
workspace uses, kept exact by ``billing.limits``."""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.database import TenantBase, Timestamp


class UsageCounter(TenantBase):
    """One row per counted resource (``billing.plans.COUNTED``).

    Creating a capped record moves ``used`` up with a conditional ``UPDATE`` in the
    creating transaction; deleting one moves it down; the nightly reconciliation resets
    it from ``COUNT(*)``.
    """

    __tablename__ = "usage_counters"

    resource: Mapped[str] = mapped_column(Text, primary_key=True)
    used: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    updated_at: Mapped[Timestamp]

    __table_args__ = (CheckConstraint("used >= 0", name="used_not_negative"),)

    def __repr__(self) -> str:
        return f"<UsageCounter {self.resource}={self.used}>"
