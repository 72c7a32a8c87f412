"""Issue 19 #6: docs/deploy.md runs on a bare Debian 12 as written: no `sudo` (a bare system has
none), and every command its shell blocks use comes from its own `apt-get install` line or from
a package every Debian system has."""
import os
import re
import shlex

from tests.serverproc import ROOT

GUIDE = os.path.join(ROOT, "docs", "deploy.md")
# Priority "required"/essential packages of Debian 12 and what they give, plus shell builtins
BASE = {"cd", "cat", "install", "cp", "rm", "mkdir", "ln", "chmod", "chown", "date", "printf",
        "echo", "sed", "find", "gzip", "gunzip", "tar", "diff", "useradd", "runuser", "su",
        "systemctl", "journalctl", "systemd-analyze", "test", "true", "export", "ls"}
PACKAGES = {  # command -> the package of the guide's apt-get line that installs it
    "python3": "python3", "git": "git", "mariadb": "mariadb-server",
    "mariadb-dump": "mariadb-server", "nginx": "nginx", "certbot": "certbot",
    "openssl": "openssl", "curl": "curl", "sqlite3": "sqlite3", "apt-get": None,
}
OUTSIDE_DEBIAN = {"docker"}  # the Containers section: Docker's own repository, said there
VENV = re.compile(r"^(/opt/market/)?\.venv/bin/")


def shell_lines():
    """Every command line of the guide's ```sh blocks, heredoc bodies of cron lines included."""
    text = open(GUIDE, encoding="utf-8").read()
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        block = block.replace("\\\n", " ")
        heredoc = None
        for line in block.splitlines():
            if heredoc:
                if line.strip() == heredoc:
                    heredoc = None
                elif re.match(r"^[\d*/,-]+ [\d*/,-]+ [\d*/,-]+ [\d*/,-]+ [\d*/,-]+ root ", line):
                    yield line.split(" root ", 1)[1]  # a cron line: its command
                continue
            found = re.search(r"<<'?(\w+)'?", line)
            if found:
                heredoc = found.group(1)
            yield line


def commands(line):
    """The commands a shell line runs (after pipes, &&, ;, inside $( ); `runuser -u U --`
    counted and unwrapped); quoted text is never taken for a command."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.commenters = "#"
    lexer.wordchars += "$%+\\"
    start, skip = True, 0
    for token in lexer:
        if token == ")" or token.startswith(")"):  # the word goes on: db-$(date +%F).gz
            start = False
            continue
        if token in ("&&", "||", "|", ";", "(", "$(") or token.endswith("$"):
            start = True
            continue
        if skip:
            skip -= 1
            continue
        if start and re.match(r"^[A-Z_]+=", token):
            continue
        if start:
            start = False
            if re.match(r"^[\w./-]+$", token):
                yield token
            if token == "runuser":
                skip, start = 3, True  # -u market -- CMD


def test_no_sudo_and_every_tool_is_installed():
    text = open(GUIDE, encoding="utf-8").read()
    apt = re.search(r"apt-get install -y ((?:[^\n]*\\\n)*[^\n]*)", text).group(1)
    installed = set(apt.replace("\\\n", " ").split()) - {"\\"}
    used = set()
    for line in shell_lines():
        for command in commands(line):
            assert command != "sudo", line
            used.add(command)
    for command in used:
        if command in BASE or VENV.match(command) or command in OUTSIDE_DEBIAN \
                or command.startswith(("<", ">", "-")):
            continue
        assert command in PACKAGES, "%s: which package installs it?" % command
        assert PACKAGES[command] is None or PACKAGES[command] in installed, command
    assert {"curl", "openssl", "runuser", "mariadb"} <= used
    assert "sqlite3 /var/lib/market/market.db \".backup" in text and "mariadb-dump --single" in text
    assert "cron" in installed and "python3-venv" in installed  # /etc/cron.d, python3 -m venv
    assert "/etc/cron.d/market-backup" in text
