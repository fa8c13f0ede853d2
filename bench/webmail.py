"""Webmail speed on a big Dovecot mailbox (webmail issue 3): fill it, then median and p95 server times.

Run (as root, like scripts/mailstack): .venv/bin/python bench/webmail.py [--messages 100000] [--rounds 50]

1. Fill: a mailbox of the private mail stack (scripts/mailstack) named after the count
   (bench-100k@tilleuls.test.mssante.fr for 100,000) gets realistic messages written straight
   into its maildir, as the mail user, then Dovecot indexes them and fts-xapian builds its
   full-text index (the first time: about 40 messages a second, so ~45 min for 100,000).
   Resumable: the files are named after their number, only the missing ones are written, and a
   mailbox that already holds the count (and its index) is reused as it is.
2. Measure, warm (after one untimed pass), N rounds each: the adapter (ImapStore: page 1, page
   100, one message fetched and parsed, searches of a subject word) and the whole HTTP request through the
   Flask app with a logged-in test client (list page 1, list page 100, open a message = its page
   plus its body frame, search). Server time = time for the app to answer in-process. Also the
   cold first page (first request of the process, and new stores on a warm Dovecot).
3. Print the figures against the goals of the issue, and what Dovecot itself costs.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import html
import os
import random
import re
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.header import Header
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pyotp  # noqa: E402

from mail.imap import ConnectionPool, ImapServer, ImapStore, MasterUserCredential  # noqa: E402
from mail.imap_pool import open_connection  # noqa: E402
from mail.mime import parse_message  # noqa: E402

MAILSTACK = ROOT / "scripts" / "mailstack"
STACK_DIR = Path(os.environ.get("MAILSTACK_DIR", ROOT / ".mailstack")).resolve()
DOMAIN = "tilleuls.test.mssante.fr"
MAIL_OWNER = "mail"  # scripts/mailstack: MAIL_OWNER, the uid/gid of every virtual mailbox
FOLDER = "INBOX"
PAGE_SIZE = 50  # mail.service.PAGE_SIZE
GOALS_MS = {"first page": 60, "page 100": 60, "open": 40, "search": 150}
ROUNDCUBE_MS = {"first page": 690, "open": 500, "search": 1100}
CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
FILE_NAME = re.compile(r"^\d+\.M\d+P\d+Q(\d+)\.benchfill,")
SPAN_DAYS = 3 * 365
PASSWORD = "bench password"


# -- the mail stack -----------------------------------------------------------------------------


def mailstack(*args: str) -> str:
    result = subprocess.run([str(MAILSTACK), *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        sys.exit(f"scripts/mailstack {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def stack_env() -> dict[str, str]:
    env = {}
    for line in mailstack("env").splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = shlex.split(value)[0] if value else ""
    return env


def doveadm(*args: str) -> str:
    result = subprocess.run(
        ["doveadm", "-c", str(STACK_DIR / "dovecot.conf"), *args], capture_output=True, text=True, timeout=6 * 3600
    )
    if result.returncode != 0:
        sys.exit(f"doveadm {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def imap_server(env: dict[str, str], timeout: float = 60.0) -> ImapServer:
    return ImapServer(
        host=env["PORTAL_IMAP_HOST"],
        port=int(env["PORTAL_IMAP_PORT"]),
        security=env["PORTAL_IMAP_SECURITY"],
        ca_file=env["PORTAL_IMAP_CA_FILE"],
        timeout_seconds=timeout,
    )


def credential(env: dict[str, str]) -> MasterUserCredential:
    return MasterUserCredential(env["PORTAL_IMAP_MASTER_USER"], env["PORTAL_IMAP_MASTER_PASSWORD"])


def new_store(env: dict[str, str], timeout: float = 60.0) -> ImapStore:
    # As mail.imap.store_from_settings builds it (pool size and idle time of the defaults).
    return ImapStore(ConnectionPool(imap_server(env, timeout), credential(env), max_size=32, idle_seconds=300))


def preauth_command(address: str) -> str:
    """Dovecot's imap binary on a pipe, logged in as `address`, WITHOUT the fts plugins (-o mail_plugins=).

    The stack sets fts_enforced = yes: Dovecot then answers every SEARCH it can hand to fts-xapian
    (SUBJECT included, not only BODY/TEXT) through the fts index, and builds the missing part of that
    index first, inside the command. This session shows what Dovecot costs answering a SUBJECT search
    from its own index and cache instead.
    """
    return (
        f"/usr/lib/dovecot/imap -c {shlex.quote(str(STACK_DIR / 'dovecot.conf'))} -o mail_plugins= "
        f"-u {shlex.quote(address)} 2>/dev/null"
    )


def preauth_client(address: str):
    from imapclient import IMAPClient

    class PipeClient(IMAPClient):
        def _set_read_timeout(self) -> None:  # IMAPClient 4 sets it on a socket, which a pipe has not
            pass

    client = PipeClient(preauth_command(address), ssl=False, stream=True)
    client.normalise_times = False
    return client


# -- realistic messages -------------------------------------------------------------------------

FIRST = [
    "Claire",
    "Jean",
    "Marie",
    "Philippe",
    "Nathalie",
    "François",
    "Élodie",
    "Stéphane",
    "Isabelle",
    "Hélène",
    "Thierry",
    "Sophie",
    "Benoît",
    "Anaïs",
    "Jérôme",
    "Céline",
    "Loïc",
    "Agnès",
    "Mathieu",
    "Frédérique",
]
LAST = [
    "Martin",
    "Lefèvre",
    "Dubois",
    "Moreau",
    "Girard",
    "Bérenger",
    "Lemaître",
    "Rousseau",
    "Fournier",
    "Chevalier",
    "Boucher",
    "Gauthier",
    "Mercier",
    "Perrin",
    "Duchêne",
    "Lacroix",
    "Besnard",
    "Hamon",
    "Pelletier",
    "Texier",
]
ORGS = [
    ("Dr", "chu-angers.mssante.fr"),
    ("Dr", "ch-lemans.mssante.fr"),
    ("", "pharmacie-centre.mssante.fr"),
    ("", "biolab72.mssante.fr"),
    ("Dr", "medecin.mssante.fr"),
    ("", "ssiad-sarthe.mssante.fr"),
    ("", "infirmiers.mssante.fr"),
    ("Dr", "clinique-pont.mssante.fr"),
    ("", "ehpad-tilleuls.mssante.fr"),
]
SERVICES = [
    ("Secrétariat Cardiologie", "cardio.secretariat@ch-lemans.mssante.fr"),
    ("Laboratoire Biolab 72", "resultats@biolab72.mssante.fr"),
    ("Service des Urgences", "urgences@ch-lemans.mssante.fr"),
    ("MDPH de la Sarthe", "contact@mdph72.mssante.fr"),
    ("Équipe mobile de gériatrie", "emg@chu-angers.mssante.fr"),
    ("HAD Sarthe", "coordination@had72.mssante.fr"),
    ("Centre de radiologie du Mans", "cr@radiologie-lemans.mssante.fr"),
    ("Pharmacie à usage intérieur", "pui@ch-lemans.mssante.fr"),
]
PATIENTS = [
    "Mme Dupont",
    "M. Lebrun",
    "Mme Morvan",
    "M. Guérin",
    "Mme Leroux",
    "M. Hébert",
    "Mme Régnier",
    "M. Caron",
    "Mme Collet",
    "M. Jégou",
    "Mme Bréhier",
    "M. Lemoine",
    "Mme Peltier",
    "M. Noël",
]
SUBJECTS = [
    "Compte rendu de consultation – {p}",
    "Résultats biologiques de {p}",
    "Lettre de liaison – {p}",
    "Demande d'admission en EHPAD pour {p}",
    "Ordonnance de renouvellement – {p}",
    "Planning des soins semaine {n}",
    "Transmission ciblée : chute de {p}",
    "Convocation à la réunion de synthèse du {d}",
    "Bilan gériatrique de {p}",
    "Compte rendu d'hospitalisation – {p}",
    "Avis dermatologique pour {p}",
    "Dossier MDPH de {p}",
    "Prescription de kinésithérapie – {p}",
    "Fiche de liaison des urgences – {p}",
    "Campagne de vaccination antigrippale",
    "Protocole de soins palliatifs – {p}",
    "Retour d'hospitalisation de {p}",
    "Demande d'avis cardiologique – {p}",
    "Compte rendu radiologique – {p}",
    "Astreinte infirmière du week-end",
    "Évaluation de la douleur – {p}",
    "Plan personnalisé de santé de {p}",
    "Commande de pansements – semaine {n}",
    "Rappel : formation hygiène des mains",
]
SENTENCES = [
    "Je vous adresse le compte rendu de la consultation de ce jour.",
    "L'examen clinique retrouve un état général conservé, sans signe de gravité.",
    "Le bilan biologique montre une créatinine à 98 µmol/l et une CRP normale.",
    "Merci de poursuivre le traitement habituel et de surveiller la tension artérielle.",
    "Une réévaluation est prévue dans trois mois, ou plus tôt en cas d'aggravation.",
    "La patiente a présenté une chute sans traumatisme crânien dans la nuit.",
    "Nous proposons une adaptation du traitement antalgique selon l'échelle EVA.",
    "Le pansement de l'ulcère est à refaire tous les deux jours par l'infirmière.",
    "La famille a été informée et souhaite être recontactée par le médecin traitant.",
    "Vous trouverez ci-joint l'ordonnance et la fiche de liaison.",
    "Le kinésithérapeute interviendra deux fois par semaine pour la rééducation à la marche.",
    "Le régime mixé est maintenu, avec un enrichissement protéique.",
    "Aucune allergie médicamenteuse connue à ce jour.",
    "La vaccination antigrippale a été réalisée le mois dernier.",
    "Merci de nous transmettre les dernières transmissions ciblées de l'équipe de nuit.",
    "Le dossier de demande d'APA a été complété et envoyé au département.",
    "Je reste à votre disposition pour tout renseignement complémentaire.",
    "L'électrocardiogramme est superposable au précédent.",
    "La réunion de coordination aura lieu jeudi à 14 h en salle de réunion du rez-de-chaussée.",
    "Les résultats de l'hémoglobine glyquée sont à 7,2 %, en légère amélioration.",
]
GREETINGS = [
    "Chère consœur, cher confrère,",
    "Bonjour,",
    "Madame, Monsieur,",
    "Cher collègue,",
    "Bonjour à toute l'équipe,",
]
SIGNATURES = ["Bien confraternellement,", "Cordialement,", "Bien à vous,", "Avec mes remerciements,"]
ATTACHMENTS = [
    "compte-rendu.pdf",
    "ordonnance.pdf",
    "resultats-biologie.pdf",
    "lettre-de-liaison.pdf",
    "radio-thorax.jpg",
    "planning.xlsx",
    "fiche-liaison.pdf",
]
ATTACHMENT_TYPES = {
    "pdf": "application/pdf",
    "jpg": "image/jpeg",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# Words that subjects hold, a few per subject template: what the benchmark searches for.
SEARCH_WORDS = [
    "biologiques",
    "kinésithérapie",
    "MDPH",
    "gériatrique",
    "radiologique",
    "pansements",
    "palliatifs",
    "vaccination",
    "dermatologique",
    "synthèse",
]


def _encoded(text: str) -> str:
    """A header value as mailers write it: ASCII as is, otherwise RFC 2047 encoded-words."""
    return text if text.isascii() else Header(text, "utf-8").encode()


def _sender(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.3:
        return rng.choice(SERVICES)
    first, last = rng.choice(FIRST), rng.choice(LAST)
    title, host = rng.choice(ORGS)
    local = f"{first}.{last}".lower().translate(str.maketrans("éèêëïîôöàâçü", "eeeeiiooaacu"))
    return (f"{title} {first} {last}".strip(), f"{local}@{host}")


def _qp(text: str) -> bytes:
    return binascii.b2a_qp(text.encode(), istext=True)


def _b64(data: bytes) -> bytes:
    encoded = base64.b64encode(data)
    return b"\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))


def message_times(index: int, count: int) -> tuple[datetime, datetime]:
    """(Date header, arrival) of message `index`: spread over three years, in arrival order."""
    rng = random.Random(f"times-{index}")
    end = datetime(2025, 11, 1, 9, 0, tzinfo=UTC)
    arrival = end - timedelta(days=SPAN_DAYS) + timedelta(seconds=SPAN_DAYS * 86400 * (index + rng.random()) / count)
    # Sent a few seconds to a few hours before arrival, a few percent much earlier (held mail).
    delay = rng.expovariate(1 / 120) if rng.random() > 0.03 else rng.uniform(3600, 86400 * 3)
    return arrival - timedelta(seconds=delay), arrival


def make_message(index: int, count: int, address: str) -> tuple[bytes, datetime, str]:
    """(raw message with LF line ends, arrival time, maildir flags) of message `index`, deterministic."""
    rng = random.Random(f"message-{index}")
    sent, arrival = message_times(index, count)
    name, email = _sender(rng)
    patient = rng.choice(PATIENTS)
    subject = rng.choice(SUBJECTS).format(p=patient, n=rng.randint(1, 52), d=sent.strftime("%d/%m/%Y"))
    prefix = rng.random()
    if prefix < 0.15:
        subject = "RE: " + subject
    elif prefix < 0.2:
        subject = "TR: " + subject
    paris = timezone(timedelta(hours=2 if 4 <= sent.month <= 10 else 1))
    headers = [
        f"Return-Path: <{email}>",
        f"Received: from mx.mssante.fr (mx.mssante.fr [10.10.0.{index % 250 + 1}])\n\tby mailstack.localhost with LMTP"
        f" id benchfill{index}\n\tfor <{address}>; {format_datetime(arrival.astimezone(paris))}",
        f"Date: {format_datetime(sent.astimezone(paris))}",
        f"From: {_encoded(name)} <{email}>",
        f"To: {_encoded('Infirmière coordinatrice')} <{address}>",
    ]
    if rng.random() < 0.2:
        other = _sender(rng)
        headers.append(f"Cc: {_encoded(other[0])} <{other[1]}>")
    headers += [f"Subject: {_encoded(subject)}", f"Message-ID: <{index}.{rng.getrandbits(48):x}@{email.split('@')[1]}>"]
    if subject.startswith("RE: "):
        headers.append(f"In-Reply-To: <{index - 1}.{rng.getrandbits(48):x}@{DOMAIN}>")
    headers += ["MIME-Version: 1.0", "X-Mailer: Messagerie MSSanté"]

    # Size: 2 to 30 KB, more small messages than big ones (log-uniform).
    target = int(2048 * (15 ** rng.random()))
    attachment = None
    if rng.random() < 0.25:
        filename = rng.choice(ATTACHMENTS)
        raw = b"%PDF-1.4\n" + rng.randbytes(max(300, int(target * rng.uniform(0.3, 0.6) * 3 / 4)))
        attachment = (filename, ATTACHMENT_TYPES[filename.rsplit(".", 1)[1]], raw)
        target -= len(raw) * 4 // 3
    paragraphs, size = [rng.choice(GREETINGS)], 0
    budget = max(400, target // (2 if rng.random() < 0.8 else 1))  # text + HTML share the budget
    while size < budget:
        paragraph = " ".join(rng.choice(SENTENCES) for _ in range(rng.randint(2, 6)))
        paragraphs.append(paragraph)
        size += len(paragraph) + 2
    paragraphs += [rng.choice(SIGNATURES), f"{name}\n{email}"]
    text = "\n\n".join(paragraphs) + "\n"

    boundary = f"=_bench_{index}_{rng.getrandbits(32):x}"
    parts: list[bytes] = []
    text_part = b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n" + _qp(text)
    if budget == target or rng.random() < 0.2:
        body_part = text_part  # plain text only
    else:
        html_body = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>\n" for p in paragraphs)
        if rng.random() < 0.05:
            html_body += '<p><img src="https://www.mssante.fr/logo.png" alt="logo"></p>\n'
        document = (
            '<html><head><meta charset="utf-8"><style>p { font-family: Arial; font-size: 11pt; }</style></head>'
            f"<body>\n{html_body}</body></html>\n"
        )
        alt = f"=_alt_{index}"
        html_part = b"Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: " + (
            b"base64\n\n" + _b64(document.encode()) if rng.random() < 0.3 else b"quoted-printable\n\n" + _qp(document)
        )
        body_part = (
            f'Content-Type: multipart/alternative; boundary="{alt}"\n\n'.encode()
            + f"--{alt}\n".encode()
            + text_part
            + f"\n--{alt}\n".encode()
            + html_part
            + f"\n--{alt}--\n".encode()
        )
    if attachment is None:
        parts = [body_part]
        head = "\n".join(headers) + "\n"
        raw_message = head.encode() + body_part
    else:
        filename, content_type, data = attachment
        attachment_part = (
            (
                f'Content-Type: {content_type}; name="{filename}"\n'
                f'Content-Disposition: attachment; filename="{filename}"\n'
                "Content-Transfer-Encoding: base64\n\n"
            ).encode()
            + _b64(data)
            + b"\n"
        )
        parts = [body_part, attachment_part]
        headers.append(f'Content-Type: multipart/mixed; boundary="{boundary}"')
        raw_message = ("\n".join(headers) + "\n\nThis is a multi-part message in MIME format.\n").encode()
        for part in parts:
            raw_message += f"--{boundary}\n".encode() + part + b"\n"
        raw_message += f"--{boundary}--\n".encode()
    old = rng.random() < 0.98 or index < count - 500
    flags = ("F" if rng.random() < 0.03 else "") + ("S" if old and rng.random() < 0.995 else "")
    return raw_message, arrival, flags


def _write_batch(args: tuple[str, list[int], int, str, int, int]) -> int:
    maildir, indexes, count, address, uid, gid = args
    written = 0
    tmp, cur = Path(maildir, "tmp"), Path(maildir, "cur")
    for index in indexes:
        raw, arrival, flags = make_message(index, count, address)
        stamp = arrival.timestamp()
        seconds, micro = int(stamp), int(stamp % 1 * 1_000_000)
        # <time>.M<usec>P<pid>Q<n>.<host>,S=<size>,W=<size with CRLF>:2,<flags> (Dovecot's maildir names;
        # S= and W= spare Dovecot a stat or a read to answer RFC822.SIZE).
        lines = raw.count(b"\n")
        base = f"{seconds}.M{micro}P0Q{index}.benchfill,S={len(raw)},W={len(raw) + lines}"
        fd = os.open(tmp / base, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, raw)
            os.fchown(fd, uid, gid)
        finally:
            os.close(fd)
        # Maildir takes the file's mtime as the arrival (INTERNALDATE).
        os.utime(tmp / base, (stamp, stamp))
        os.rename(tmp / base, cur / f"{base}:2,{flags}")
        written += 1
    return written


@dataclass
class Fill:
    address: str
    messages: int
    written: int = 0
    seconds_writing: float = 0.0
    seconds_indexing: float = 0.0
    seconds_fts: float = 0.0
    reused: bool = False
    megabytes: float = 0.0
    notes: list[str] = field(default_factory=list)


def fill(env: dict[str, str], count: int, index_text: bool = True) -> Fill:
    address = f"bench-{count // 1000}k@{DOMAIN}" if count % 1000 == 0 else f"bench-{count}@{DOMAIN}"
    result = Fill(address=address, messages=count)
    users = (STACK_DIR / "users").read_text()
    if not re.search(rf"^{re.escape(address)}:", users, re.MULTILINE):
        mailstack("adduser", address)
    import pwd

    owner = pwd.getpwnam(MAIL_OWNER)
    local, domain = address.split("@")
    home = STACK_DIR / "mail" / domain / local
    maildir = home / "Maildir"
    # The domain's directory too: on a new stack no mailbox of the domain has received mail yet.
    for path in (home.parent, home, maildir, maildir / "cur", maildir / "new", maildir / "tmp"):
        path.mkdir(mode=0o700, exist_ok=True)
        os.chown(path, owner.pw_uid, owner.pw_gid)
    for leftover in (maildir / "tmp").iterdir():  # an interrupted earlier fill
        leftover.unlink()

    present = set()
    for directory in (maildir / "cur", maildir / "new"):
        for entry in os.scandir(directory):
            match = FILE_NAME.match(entry.name)
            if match:
                present.add(int(match.group(1)))
    missing = [i for i in range(count) if i not in present]
    if missing:
        start = time.perf_counter()
        workers = os.cpu_count() or 2
        batches = [missing[i : i + 500] for i in range(0, len(missing), 500)]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            jobs = [(str(maildir), batch, count, address, owner.pw_uid, owner.pw_gid) for batch in batches]
            for done in pool.map(_write_batch, jobs):
                result.written += done
                if result.written % 10000 < 500:
                    print(f"  ... {len(present) + result.written:,} / {count:,} messages written", flush=True)
        result.seconds_writing = time.perf_counter() - start
    else:
        result.reused = True
    result.megabytes = sum(e.stat().st_size for e in os.scandir(maildir / "cur")) / 1e6

    # Dovecot takes the new files in (dovecot-uidlist, index): a status syncs the folder.
    start = time.perf_counter()
    status = doveadm("-f", "flow", "mailbox", "status", "-u", address, "messages unseen uidnext", FOLDER)
    result.seconds_indexing = time.perf_counter() - start
    messages = int(re.search(r"messages=(\d+)", status).group(1))
    # The portal's search is answered by fts-xapian, which indexes in the background (fts_autoindex)
    # as mail arrives; mail written straight into the maildir is indexed here instead, once
    # (about 40 messages a second, one core; an indexed folder comes back at once).
    if index_text:
        print("Building the full-text index of the folder (doveadm index; resumable) ...", flush=True)
        start = time.perf_counter()
        doveadm("index", "-u", address, FOLDER)
        result.seconds_fts = time.perf_counter() - start
    if messages < count:
        result.notes.append(f"Dovecot sees {messages:,} messages, fewer than the {count:,} asked for")
    result.messages = messages
    return result


# -- measuring ----------------------------------------------------------------------------------


def timed(function: Callable[[int], object], rounds: int) -> list[float]:
    durations = []
    for round_number in range(rounds):
        start = time.perf_counter()
        function(round_number)
        durations.append((time.perf_counter() - start) * 1000)
    return durations


def once(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return (time.perf_counter() - start) * 1000


def p95(durations: list[float]) -> float:
    ordered = sorted(durations)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def warm_then_time(function: Callable[[int], object], rounds: int) -> list[float]:
    for round_number in range(rounds):  # the untimed pass, over the same inputs as the timed one
        function(round_number)
    return timed(function, rounds)


@dataclass
class Row:
    layer: str
    name: str
    durations: list[float]
    goal: str = ""
    note: str = ""


def dovecot_facts(env: dict[str, str], address: str, rounds: int) -> list[tuple[str, str]]:
    """What Dovecot alone costs on this folder, on a connection of our own (no adapter)."""
    server, cred = imap_server(env), credential(env)
    facts = []

    def connect_select() -> object:
        client = open_connection(server)
        cred.login(client, address)
        client.select_folder(FOLDER, readonly=True)
        return client

    durations = [once(lambda: connect_select().logout()) for _ in range(5)]
    facts.append(
        ("new connection: connect + STARTTLS + login + SELECT", f"median {statistics.median(durations):.0f} ms (5)")
    )
    client = connect_select()
    try:
        sort = [once(lambda: client.sort(["REVERSE DATE"], ["ALL"], charset="UTF-8")) for _ in range(min(rounds, 10))]
        uids = client.sort(["REVERSE DATE"], ["ALL"], charset="UTF-8")
        facts.append(
            (
                f"UID SORT (REVERSE DATE) ALL, {len(uids):,} UIDs",
                f"median {statistics.median(sort):.0f} ms, max {max(sort):.0f} ms ({len(sort)})",
            )
        )

        def esort_partial() -> None:
            client._raw_command_untagged(
                b"SORT",
                [b"RETURN", b"(PARTIAL 1:50 COUNT)", b"(REVERSE DATE)", b"UTF-8", b"ALL"],
                response_name="ESEARCH",
            )

        partial = [once(esort_partial) for _ in range(min(rounds, 10))]
        facts.append(
            ("UID SORT RETURN (PARTIAL 1:50 COUNT) (REVERSE DATE)", f"median {statistics.median(partial):.0f} ms")
        )
        status = [
            once(
                lambda: client.folder_status(FOLDER, ["MESSAGES", "UNSEEN", "UIDNEXT", "UIDVALIDITY", "HIGHESTMODSEQ"])
            )
            for _ in range(20)
        ]
        facts.append(
            ("STATUS (MESSAGES UNSEEN UIDNEXT UIDVALIDITY HIGHESTMODSEQ)", f"median {statistics.median(status):.1f} ms")
        )
        bare = preauth_client(address)
        try:
            bare.select_folder(FOLDER, readonly=True)
            search = []
            for i in range(min(rounds, 10)):
                search.append(
                    once(lambda i=i: bare.search(["SUBJECT", SEARCH_WORDS[i % len(SEARCH_WORDS)]], charset="UTF-8"))
                )
            sort_bare = [once(lambda: bare.sort(["REVERSE DATE"], ["ALL"], charset="UTF-8")) for _ in range(5)]
        finally:
            bare.logout()
        facts.append(
            (
                "UID SEARCH SUBJECT <word>, Dovecot without fts (index + cache)",
                f"median {statistics.median(search):.0f} ms",
            )
        )
        facts.append(
            (
                "UID SORT (REVERSE DATE) ALL, same session without fts (pipe, no TLS)",
                f"median {statistics.median(sort_bare):.0f} ms",
            )
        )
        fetch = [
            once(
                lambda: client.fetch(
                    uids[4950:5000], ["ENVELOPE", "FLAGS", "RFC822.SIZE", "BODYSTRUCTURE", "INTERNALDATE"]
                )
            )
            for _ in range(10)
        ]
        facts.append(
            (
                "UID FETCH 50 x (ENVELOPE FLAGS RFC822.SIZE BODYSTRUCTURE INTERNALDATE)",
                f"median {statistics.median(fetch):.1f} ms",
            )
        )
        body = [once(lambda i=i: client.fetch([uids[i * 997 % len(uids)]], ["BODY.PEEK[]"])) for i in range(10)]
        facts.append(("UID FETCH 1 x BODY.PEEK[]", f"median {statistics.median(body):.1f} ms"))
    finally:
        client.logout()
    return facts


def adapter_rows(env: dict[str, str], address: str, rounds: int, search: bool) -> tuple[list[Row], list[int]]:
    rows = []
    # Cold: a new store (empty pool, empty sort cache) on a warm Dovecot, as after a portal restart.
    cold_first, cold_100 = [], []
    for _ in range(5):
        store = new_store(env)
        cold_first.append(once(lambda s=store: s.page(address, FOLDER, 1, PAGE_SIZE)))
        cold_100.append(once(lambda s=store: s.page(address, FOLDER, 100, PAGE_SIZE)))
        store.close()
    rows.append(Row("adapter", "cold first page (new store)", cold_first, note="new connection + ESORT PARTIAL"))
    rows.append(Row("adapter", "cold page 100 right after", cold_100, note="waits for the background full sort"))

    store = new_store(env)
    try:
        uids = store.sorted_uids(address, FOLDER)
        # Messages to open: spread over the whole folder, one per round.
        opened = [uids[(i * 1999 + 7) % len(uids)] for i in range(rounds)]

        rows.append(
            Row(
                "adapter",
                "page(1)",
                warm_then_time(lambda _: store.page(address, FOLDER, 1, PAGE_SIZE), rounds),
                str(GOALS_MS["first page"]),
            )
        )
        rows.append(
            Row(
                "adapter",
                "page(100)",
                warm_then_time(lambda _: store.page(address, FOLDER, 100, PAGE_SIZE), rounds),
                str(GOALS_MS["page 100"]),
            )
        )
        rows.append(
            Row(
                "adapter",
                "raw_message + parse_message",
                warm_then_time(lambda i: parse_message(store.raw_message(address, FOLDER, opened[i])), rounds),
                str(GOALS_MS["open"]),
            )
        )
        for field in ("subject", "text") if search else ():
            found = []

            def search(i: int, field=field) -> None:
                found.append(len(store.search(address, FOLDER, SEARCH_WORDS[i % len(SEARCH_WORDS)], field=field)))

            rows.append(
                Row(
                    "adapter",
                    f'search(field="{field}"), fts-xapian',
                    warm_then_time(search, rounds),
                    str(GOALS_MS["search"]),
                    note=f"{min(found):,}-{max(found):,} hits",
                )
            )
    finally:
        store.close()
    return rows, opened


def build_app(env: dict[str, str], instance: Path, address: str):
    from mail.models import Mailbox, MailboxKind
    from portal import create_app, database, migrate
    from portal.auth import passwords
    from portal.models import Establishment, Role, User
    from portal.settings import Settings

    settings = Settings(env="test", instance_path=instance, login_rate_limit="100000 per minute")
    app = create_app(settings)
    migrate.run(app.extensions["database"].engine, "upgrade", "heads")
    with app.app_context():
        db = database.session()
        establishment = Establishment(finess="720000001", name="EHPAD Les Tilleuls")
        user = User(
            email="infirmiere@bench.test",
            first_name="Infirmière",
            last_name="Bench",
            password_hash=passwords.hash_password(PASSWORD),
            totp_secret=pyotp.random_base32(),
            establishments=[establishment],
        )
        user.roles = {Role.PROFESSIONAL}
        db.add(user)
        db.flush()
        box = Mailbox(
            address=address,
            kind=MailboxKind.PER,
            display_name="Infirmière coordinatrice",
            establishment=establishment,
            owner=user,
        )
        db.add(box)
        db.commit()
        return app, user.email, user.totp_secret, box.id


def log_in(app, email: str, secret: str):
    client = app.test_client()
    token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302 and response.location.endswith("/login/code"), response.status_code
    token = CSRF.search(client.get("/login/code").get_data(as_text=True)).group(1)
    response = client.post("/login/code", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token})
    assert response.status_code == 302 and response.location == "/", response.status_code
    return client


def http_rows(env: dict[str, str], address: str, rounds: int, opened: list[int], search: bool) -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory() as instance:
        app, email, secret, box_id = build_app(env, Path(instance), address)
        client = log_in(app, email, secret)
        base = f"/mail/{box_id}"

        def get(path: str, expect: int = 200) -> str:
            response = client.get(path)
            assert response.status_code == expect, (path, response.status_code)
            return response.get_data(as_text=True)

        # Cold: the process's first webmail request (templates not compiled, empty pool and cache).
        app.extensions["mail.store"] = new_store(env)
        rows.append(
            Row(
                "HTTP",
                "cold first page (first request)",
                [once(lambda: get(f"{base}/folder/{FOLDER}"))],
                note="process's first webmail request",
            )
        )
        app.extensions["mail.store"].close()
        cold = []
        for _ in range(5):
            app.extensions["mail.store"] = new_store(env)
            cold.append(once(lambda: get(f"{base}/folder/{FOLDER}")))
            get(f"{base}/folder/{FOLDER}?page=100")  # lets the background sort end before the store goes
            app.extensions["mail.store"].close()
        rows.append(Row("HTTP", "cold first page (new store)", cold, note="new connection + ESORT PARTIAL"))

        store = app.extensions["mail.store"] = new_store(env)
        try:
            page = get(f"{base}/folder/{FOLDER}")
            assert "Page 1 sur" in html.unescape(page), "no paged list"
            rows.append(
                Row(
                    "HTTP",
                    "GET folder page 1",
                    warm_then_time(lambda _: get(f"{base}/folder/{FOLDER}"), rounds),
                    str(GOALS_MS["first page"]),
                )
            )
            rows.append(
                Row(
                    "HTTP",
                    "GET folder page 100",
                    warm_then_time(lambda _: get(f"{base}/folder/{FOLDER}?page=100"), rounds),
                    str(GOALS_MS["page 100"]),
                )
            )

            def open_message(i: int) -> None:
                get(f"{base}/message/{opened[i]}/{FOLDER}")
                get(f"{base}/body/{opened[i]}/{FOLDER}")

            rows.append(
                Row(
                    "HTTP",
                    "open: GET message + GET body frame",
                    warm_then_time(open_message, rounds),
                    str(GOALS_MS["open"]),
                )
            )
            split = {"message": [], "body": []}

            def open_split(i: int) -> None:
                split["message"].append(once(lambda: get(f"{base}/message/{opened[i]}/{FOLDER}")))
                split["body"].append(once(lambda: get(f"{base}/body/{opened[i]}/{FOLDER}")))

            for i in range(rounds):
                open_split(i)
            rows.append(Row("HTTP", "  of which GET message page", split["message"]))
            rows.append(Row("HTTP", "  of which GET body frame", split["body"]))

            token = CSRF.search(page).group(1)
        finally:
            store.close()

        def post_search(i: int) -> str:
            response = client.post(
                f"{base}/search/{FOLDER}", data={"q": SEARCH_WORDS[i % len(SEARCH_WORDS)], "csrf_token": token}
            )
            assert response.status_code == 200, response.status_code
            page = response.get_data(as_text=True)
            assert "construit son index" not in html.unescape(page), "the folder's full-text index is not complete"
            return page

        if not search:
            return rows
        # The view as shipped: SEARCH TEXT (headers and body), answered by fts-xapian.
        store = app.extensions["mail.store"] = new_store(env)
        try:
            get(f"{base}/folder/{FOLDER}")
            rows.append(
                Row(
                    "HTTP",
                    "POST search (TEXT, fts-xapian)",
                    warm_then_time(post_search, rounds),
                    str(GOALS_MS["search"]),
                    note="page 1 of the results",
                )
            )
        finally:
            store.close()
    return rows


def print_rows(rows: list[Row]) -> None:
    print(f"{'layer':<8} {'operation':<42} {'median':>8} {'p95':>8} {'goal':>6}  {'n':>3}  note")
    for row in rows:
        median = statistics.median(row.durations)
        tail = p95(row.durations) if len(row.durations) > 1 else median
        goal = row.goal or "-"
        mark = ""
        if row.goal:
            mark = " ok" if median <= float(row.goal) and tail <= float(row.goal) else " OVER"
        figures = f"{median:8.1f} {tail:8.1f} {goal:>6}  {len(row.durations):>3}"
        print(f"{row.layer:<8} {row.name:<42} {figures}  {row.note}{mark}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--fill-only", action="store_true", help="fill (or check) the mailbox and stop")
    parser.add_argument(
        "--no-search",
        action="store_true",
        help="neither build the full-text index nor time the searches (lists and opening only)",
    )
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the mail stack and the maildir belong to root and to the mail user")
    mailstack("start")
    env = stack_env()

    print(f"Filling a mailbox with {args.messages:,} messages (resumable) ...", flush=True)
    result = fill(env, args.messages, index_text=not args.no_search)
    if result.reused:
        print(f"mailbox {result.address}: reused, {result.messages:,} messages, {result.megabytes:,.0f} MB of maildir")
    else:
        rate = result.written / result.seconds_writing if result.seconds_writing else 0
        print(
            f"mailbox {result.address}: wrote {result.written:,} messages ({result.megabytes:,.0f} MB) in "
            f"{result.seconds_writing:.1f} s ({rate:,.0f}/s)"
        )
    print(f"Dovecot sync of the folder (doveadm mailbox status): {result.seconds_indexing:.1f} s")
    print(f"fts-xapian index of the folder (doveadm index): {result.seconds_fts:,.1f} s")
    for note in result.notes:
        print(f"note: {note}")
    if args.fill_only:
        return

    # Dovecot's first sort and first subject search of a freshly filled folder read every message's
    # headers into its cache; later ones are answered from the index and cache.
    # (The SEARCH goes to a Dovecot without fts: on the stack, fts_enforced=yes would make this first
    # search build the whole fts-xapian index, about an hour for 100,000 messages.)
    server, cred = imap_server(env, timeout=600), credential(env)
    client = open_connection(server)
    cred.login(client, result.address)
    client.select_folder(FOLDER, readonly=True)
    first_sort = once(lambda: client.sort(["REVERSE DATE"], ["ALL"], charset="UTF-8"))
    client.logout()
    client = preauth_client(result.address)
    client.select_folder(FOLDER, readonly=True)
    first_search = once(lambda: client.search(["SUBJECT", "zzzznotthere"], charset="UTF-8"))
    client.logout()
    print(
        f"first SORT after the fill: {first_sort:,.0f} ms; first SEARCH SUBJECT (Dovecot without fts): "
        f"{first_search:,.0f} ms (Dovecot reads the headers into its cache once)"
    )

    print(
        f"\nDovecot {subprocess.run(['dovecot', '--version'], capture_output=True, text=True).stdout.split()[0]}, "
        f"{result.messages:,} messages in {FOLDER}, {socket.gethostname()}, {os.cpu_count()} cores"
    )
    for what, value in dovecot_facts(env, result.address, args.rounds):
        print(f"  {what:<78} {value}")

    print(f"\nMeasuring, warm (one untimed pass), {args.rounds} rounds ...", flush=True)
    rows, opened = adapter_rows(env, result.address, args.rounds, not args.no_search)
    rows += http_rows(env, result.address, args.rounds, opened, not args.no_search)
    print()
    print_rows(rows)
    print("\nms, server time in-process; HTTP = Flask test client, logged in, audit written to SQLite.")
    print(
        f"For scale (issue 3, same machine): Roundcube 1.6 first page ~{ROUNDCUBE_MS['first page']} ms, "
        f"open ~{ROUNDCUBE_MS['open']} ms, search ~{ROUNDCUBE_MS['search']} ms; Dovecot SORT alone ~430 ms."
    )


if __name__ == "__main__":
    main()
