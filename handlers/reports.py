"""Reports from the mini-program: POST /wx/report."""
from actions.reports import do_file_report
from handlers.base import ApiHandler


class ReportHandler(ApiHandler):
    """POST /wx/report {openid, targetType, targetId, reason[, messages]} → extend.reportId."""

    async def post(self):
        body = self.json_body()
        reporter = self.caller(body.get("openid"))
        self.ok({"reportId": await do_file_report(self.actions, reporter, body)}, msg="reported")


default_handlers = [
    (r"/wx/report", ReportHandler),
]
