"""The audit log as moderators read it (every change writes its line with models.admin.record,
inside the change's own transaction)."""
from models.admin import AdminAction
from services import validate
from services.clock import display


def lines(q="", page=0, size=50):
    """Audit lines, newest first; `q` filters by actor, action or target."""
    query = AdminAction.select()
    q = validate.text(q, "q", 64, required=False)
    if q:
        query = query.where((AdminAction.actor == q) | AdminAction.action.startswith(q)
                            | (AdminAction.target == q) | AdminAction.target.endswith(":" + q))
    rows = list(query.order_by(AdminAction.id.desc()).offset(page * size).limit(size + 1))
    items = [{"id": a.id, "actor": a.actor, "action": a.action, "target": a.target,
              "reason": a.reason, "old": a.old_value, "new": a.new_value,
              "at": display(a.created_at)} for a in rows[:size]]
    return {"items": items, "more": len(rows) > size}
