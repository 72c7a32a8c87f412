"""Bar charts drawn on the server: the geometry of an inline <svg> (the pages run no script, the
CSP forbids them), one bar per day. Plain numbers in, a dict the template draws."""

WIDTH, HEIGHT, AXIS = 300, 80, 14  # drawing units of the viewBox; AXIS: room for day labels


def scale_top(largest):
    """A round upper end of the scale at or above `largest` (1, 2, 5 × 10^n; at least 1)."""
    step = 1
    while True:
        for k in (1, 2, 5):
            if k * step >= largest:
                return k * step
        step *= 10


def bar_chart(days, values):
    """{"bars": [{x, y, w, h, day, n}], "ticks": [{x, label, anchor}], "top", "total", "today",
    "width", "height"} for one value per day (days as 'YYYY-MM-DD', oldest first)."""
    top = scale_top(max(values, default=0))
    slot = WIDTH / max(len(days), 1)
    bars = []
    for i, (day, n) in enumerate(zip(days, values)):
        h = round(HEIGHT * n / top, 1)
        bars.append({"x": round(i * slot + slot * 0.1, 1), "y": round(HEIGHT - h, 1),
                     "w": round(slot * 0.8, 1), "h": h, "day": day, "n": n})
    last = len(days) - 1
    ticks = [{"x": WIDTH if i == last else round(i * slot + slot / 2, 1), "label": days[i][5:],
              "anchor": "end" if i == last else "middle"}
             for i in range(last, -1, -7)]  # today (flush right), then every 7 days back
    return {"bars": bars, "ticks": ticks, "top": top, "total": sum(values),
            "today": values[-1] if values else 0, "width": WIDTH, "height": HEIGHT + AXIS,
            "base": HEIGHT}
