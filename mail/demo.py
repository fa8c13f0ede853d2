"""Demo mail for the embedded mode: the demo establishment's mailboxes and ~30 seeded messages.

Everything here is synthetic: people, patients, INS (valid keys, fictitious numbers), hospitals
and addresses; nothing is real personal data. `seed_mailboxes` is called by the portal's
demo seed through app.extensions["demo_seeders"] (wired in create_app); `demo_messages` is what
`portal mail embedded` stores in the embedded server the first time it starts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from mail import xdm
from mail.models import Delegation, Mailbox, MailboxKind
from portal import demo as cast
from portal.demo import JEANNE, MARCEL, ROBERT, Resident
from portal.models import Establishment, Role, User

if TYPE_CHECKING:
    from mail.embedded import Seed

DOMAIN = "ehpad-tilleuls.demo.mssante.fr"
CLAIRE = f"claire.durand@{DOMAIN}"
PAUL = f"paul.bernard@{DOMAIN}"
ACCUEIL = f"accueil@{DOMAIN}"
ADMIN = f"admin@{DOMAIN}"
SECRETARIAT = f"secretariat@{DOMAIN}"
NOTICES = f"notices@{DOMAIN}"

SEEN, FLAGGED, ANSWERED, DRAFT = "\\Seen", "\\Flagged", "\\Answered", "\\Draft"

# Correspondents (fictitious; the portal's demo cast, also in the demo annuaire; example.* never resolves).
URGENCES, GERIATRIE, LABO = cast.URGENCES.mailbox, cast.GERIATRIE.mailbox, cast.LABO.mailbox
PHARMACIE, GENERALISTE, KINE = cast.PHARMACIE.mailbox, cast.GENERALISTE.mailbox, cast.KINE.mailbox
HAD, CARDIO, CPIAS = cast.HAD.mailbox, cast.CARDIO.mailbox, cast.CPIAS.mailbox
SOCIAL, OPERATEUR = cast.SOCIAL.mailbox, cast.OPERATEUR.mailbox
ARS = "Lettre d'information ARS (démo) <lettre@ars-demo.example.org>"
MAILER_DAEMON = f"Mail Delivery System <MAILER-DAEMON@{DOMAIN}>"


# --- The portal side: mailboxes and delegations ------------------------------------------------


def seed_mailboxes(db: Session, establishment: Establishment) -> None:
    """PER mailboxes of the professionals, the secretariat (ORG) and the notices mailbox (APP).

    Called inside the portal's demo seed transaction, which commits (and audits) once.
    """
    users = {user.email: user for user in db.scalars(select(User).where(User.establishments.contains(establishment)))}
    for user in users.values():
        if user.has_role(Role.PROFESSIONAL):
            db.add(
                Mailbox(
                    address=user.email,
                    kind=MailboxKind.PER,
                    display_name=f"{user.first_name} {user.last_name}",
                    establishment=establishment,
                    owner=user,
                )
            )
    responsible = users.get(ADMIN) or next(iter(users.values()), None)
    if responsible is not None:
        secretariat = Mailbox(
            address=SECRETARIAT,
            kind=MailboxKind.ORG,
            display_name=f"Secrétariat médical - {establishment.name}",
            establishment=establishment,
            owner=responsible,
        )
        secretariat.delegations = [
            Delegation(user=users[email], granted_by_id=None) for email in (ACCUEIL, CLAIRE) if email in users
        ]
        db.add(secretariat)
    db.add(
        Mailbox(
            address=NOTICES,
            kind=MailboxKind.APP,
            display_name=f"Avis aux usagers - {establishment.name}",
            establishment=establishment,
            owner=None,
        )
    )


def mailbox_addresses(db: Session) -> list[str]:
    """Every address the embedded server gives a mailbox: the Mailboxes and the users' own addresses."""
    addresses = set(db.scalars(select(Mailbox.address)))
    addresses.update(db.scalars(select(User.email)))
    return sorted(address.lower() for address in addresses)


# --- Synthetic documents -------------------------------------------------------------------------


def pdf(title: str, lines: list[str]) -> bytes:
    """A small valid one-page PDF (Helvetica, WinAnsi text) with a title and lines of text."""

    def text(value: str) -> bytes:
        raw = value.encode("cp1252", "replace")
        return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")

    stream = b"BT /F1 15 Tf 60 780 Td (" + text(title) + b") Tj /F1 10 Tf"
    for index, line in enumerate(lines):
        stream += b" 0 " + (b"-28" if index == 0 else b"-15") + b" Td (" + text(line) + b") Tj"
    stream += b" ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Title (" + text(title) + b") /Producer (Portail MSSante - demo) >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 6 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def cda(patient: Resident, title: str, author: str, body: str, when: datetime) -> bytes:
    """A minimal CDA R2 document (structured header, non-structured body) for the XDM package."""
    stamp = when.strftime("%Y%m%d%H%M%S%z")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
  <realmCode code="FR"/>
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <templateId root="2.16.840.1.113883.2.8.2.1"/>
  <id root="1.2.250.1.999.1.1.1" extension="DEMO-LDL-0001"/>
  <code code="11490-0" codeSystem="2.16.840.1.113883.6.1" displayName="Lettre de sortie"/>
  <title>{title}</title>
  <effectiveTime value="{stamp}"/>
  <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
  <languageCode code="fr-FR"/>
  <recordTarget>
    <patientRole>
      <id root="1.2.250.1.213.1.4.11" extension="{patient.ins}"/>
      <patient>
        <name><family qualifier="BR">{patient.family.upper()}</family><given>{patient.given}</given></name>
        <administrativeGenderCode code="{patient.sex}" codeSystem="2.16.840.1.113883.5.1"/>
        <birthTime value="{patient.birth}"/>
      </patient>
    </patientRole>
  </recordTarget>
  <author><time value="{stamp}"/><assignedAuthor><id root="1.2.250.1.71.4.2.1" extension="810000000033"/>
    <assignedPerson><name><prefix>Dr</prefix>{author}</name></assignedPerson></assignedAuthor></author>
  <component><nonXMLBody><text mediaType="text/plain">{body}</text></nonXMLBody></component>
</ClinicalDocument>
""".encode()


def xdm_zip(patient: Resident, cda_title: str, cda_bytes: bytes, pdf_title: str, pdf_bytes: bytes) -> bytes:
    """An IHE_XDM.ZIP (IHE ITI XDM, MSSanté profile) holding the CDA and the PDF of a discharge letter."""
    documents = [
        xdm.Document(cda_title, "11490-0", "Lettre de sortie", cda_bytes, "text/xml"),
        xdm.Document(pdf_title, "11490-0", "Lettre de sortie", pdf_bytes),
    ]
    author = xdm.Author("Moreau", "Hélène", "810000000033", "CH du Mans (démo)", None)
    return xdm.build_package(documents, patient, author, authority=xdm.INS_DEMO_OID)


# --- Messages ------------------------------------------------------------------------------------


def _message(
    sender: str,
    to: str | list[str],
    subject: str,
    text: str,
    when: datetime,
    *,
    cc: list[str] | None = None,
    html: str | None = None,
    attachments: list[tuple[str, str, bytes]] = (),
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = ", ".join(to) if isinstance(to, list) else to
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = subject
    message["Date"] = format_datetime(when)
    message["Message-ID"] = make_msgid(domain="demo.mssante.fr")
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    for filename, mime, data in attachments:
        maintype, subtype = mime.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message


def _delivery_status(original: EmailMessage, failed: str, when: datetime, diagnostic: str) -> EmailMessage:
    """A non-delivery report (RFC 3464): multipart/report; report-type=delivery-status."""
    report = EmailMessage(policy=SMTP)
    report["From"] = MAILER_DAEMON
    report["To"] = original["From"]
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report["Date"] = format_datetime(when)
    report["Message-ID"] = make_msgid(domain=DOMAIN)
    report["Auto-Submitted"] = "auto-replied"
    report.set_content(
        "Ceci est le système de messagerie de l'EHPAD Les Tilleuls (démonstration).\n\n"
        "Votre message n'a pas pu être remis à un ou plusieurs destinataires.\n\n"
        f"<{failed}>: {diagnostic}\n"
    )
    report.make_mixed()
    report.set_type("multipart/report")
    report.set_param("report-type", "delivery-status")
    per_message = EmailMessage(policy=SMTP)
    per_message["Reporting-MTA"] = f"dns; mail.{DOMAIN}"
    per_message["Arrival-Date"] = format_datetime(when - timedelta(minutes=2))
    per_recipient = EmailMessage(policy=SMTP)
    per_recipient["Final-Recipient"] = f"rfc822; {failed}"
    per_recipient["Original-Recipient"] = f"rfc822; {failed}"
    per_recipient["Action"] = "failed"
    per_recipient["Status"] = "5.1.1"
    per_recipient["Remote-MTA"] = f"dns; mx.{failed.rpartition('@')[2]}"
    per_recipient["Diagnostic-Code"] = f"smtp; 550 5.1.1 <{failed}>: Recipient address rejected: User unknown"
    status = EmailMessage(policy=SMTP)
    status["Content-Type"] = "message/delivery-status"
    status["Content-Description"] = "Delivery report"
    status.set_payload([per_message, per_recipient])
    report.attach(status)
    headers = EmailMessage(policy=SMTP)
    headers.set_content("".join(f"{name}: {value}\n" for name, value in original.items()), subtype="rfc822-headers")
    headers["Content-Description"] = "Undelivered Message Headers"
    report.attach(headers)
    return report


def _read_receipt(original: EmailMessage, reader: str, when: datetime) -> EmailMessage:
    """A read receipt (RFC 8098): multipart/report; report-type=disposition-notification."""
    receipt = EmailMessage(policy=SMTP)
    receipt["From"] = reader
    receipt["To"] = original["From"]
    receipt["Subject"] = f"Accusé de lecture : {original['Subject']}"
    receipt["Date"] = format_datetime(when)
    receipt["Message-ID"] = make_msgid(domain="demo.mssante.fr")
    receipt["References"] = original["Message-ID"]
    receipt.set_content(
        f"Le message « {original['Subject']} » envoyé le {original['Date']} a été affiché par son destinataire. "
        "Cela ne garantit pas qu'il ait été lu ou compris.\n"
    )
    receipt.make_mixed()
    receipt.set_type("multipart/report")
    receipt.set_param("report-type", "disposition-notification")
    notification = EmailMessage(policy=SMTP)
    notification["Content-Type"] = "message/disposition-notification"
    final = reader.rpartition("<")[2].rstrip(">")
    notification.set_payload(
        "Reporting-UA: messagerie.demo.mssante.fr; Webmail MSSante\r\n"
        f"Final-Recipient: rfc822; {final}\r\n"
        f"Original-Message-ID: {original['Message-ID']}\r\n"
        "Disposition: manual-action/MDN-sent-manually; displayed\r\n"
    )
    receipt.attach(notification)
    return receipt


def _html_newsletter(when: datetime) -> EmailMessage:
    html = """<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>Lettre d'information</title>
<style>body{font-family:Arial,sans-serif;color:#1e2a3a} .bandeau{width:100%;max-width:600px}
h1{color:#00607a;font-size:20px} .encart{background:#eef6f8;padding:12px;border-left:4px solid #00607a}</style></head>
<body>
<img class="bandeau" src="https://lettre.ars-demo.example.org/img/bandeau-octobre.png" alt="Bandeau de la lettre">
<img src="https://suivi.ars-demo.example.org/ouverture.gif?id=8f3a2c" width="1" height="1" alt="">
<h1>Lettre d'information des établissements médico-sociaux</h1>
<p>Madame, Monsieur,</p>
<p>La <strong>campagne de vaccination contre la grippe saisonnière</strong> débute le 15 octobre. Les EHPAD
sont invités à recenser dès maintenant les résidents et professionnels volontaires.</p>
<div class="encart"><p><strong>À retenir</strong> : le tableau de bord de suivi des vaccinations est à
transmettre chaque vendredi avant midi.</p></div>
<p>Retrouvez le <a href="https://www.ars-demo.example.org/vaccination-grippe">guide pratique</a> et la
<a href="https://www.ars-demo.example.org/webinaire">rediffusion du webinaire</a>.</p>
<p style="font-size:11px;color:#667">Vous recevez cette lettre en tant que professionnel d'un établissement
médico-social. <a href="https://lettre.ars-demo.example.org/desinscription?id=8f3a2c">Se désinscrire</a>.</p>
</body></html>
"""
    return _message(
        ARS,
        CLAIRE,
        "Lettre d'information - Campagne de vaccination antigrippale",
        "Lettre d'information des établissements médico-sociaux.\n\nLa campagne de vaccination contre la grippe "
        "saisonnière débute le 15 octobre.\nVersion en ligne : https://www.ars-demo.example.org/lettre\n",
        when,
        html=html,
        headers={"List-Unsubscribe": "<https://lettre.ars-demo.example.org/desinscription?id=8f3a2c>"},
    )


def demo_messages(now: datetime | None = None) -> list[Seed]:
    """About thirty messages over the demo mailboxes, dated in the recent past."""
    from mail.embedded import Seed

    now = (now or datetime.now().astimezone()).replace(second=0, microsecond=0)

    def ago(days: float, hour: int = 9, minute: int = 0) -> datetime:
        return (now - timedelta(days=days)).replace(hour=hour, minute=minute)

    seeds: list[Seed] = []

    def put(address: str, message: EmailMessage, when: datetime, *flags: str, folder: str = "INBOX") -> EmailMessage:
        seeds.append(Seed(address, message.as_bytes(policy=SMTP), folder, frozenset(flags), when))
        return message

    # --- Claire Durand, infirmière coordinatrice (PER) ---
    when = ago(0, 7, 42)
    dlu_pdf = pdf(
        f"Dossier de liaison d'urgence - {JEANNE.label}",
        [
            f"Née le 12/04/1938 - INS {JEANNE.ins} (identité de démonstration)",
            "Admise aux urgences le " + when.strftime("%d/%m/%Y") + " à 02 h 10 pour chute nocturne.",
            "Antécédents : fibrillation auriculaire, HTA, troubles cognitifs modérés (MMS 19/30).",
            "Traitement : apixaban 2,5 mg x 2, bisoprolol 2,5 mg, donépézil 5 mg.",
            "Personne de confiance : sa fille, Mme Lefèvre (coordonnées au dossier).",
            "Directives anticipées : rédigées, copie jointe au dossier de l'établissement.",
            "Retour prévu à l'EHPAD dans la journée après radiographies (pas de fracture visible).",
        ],
    )
    put(
        CLAIRE,
        _message(
            URGENCES,
            CLAIRE,
            f"DLU - {JEANNE.label} - passage aux urgences de cette nuit",
            "Bonjour,\n\nVeuillez trouver ci-joint le dossier de liaison d'urgence complété lors du passage de "
            f"{JEANNE.label} aux urgences cette nuit (chute, pas de fracture). Retour prévu dans la journée par "
            "ambulance.\n\nMerci de surveiller la marche et la douleur au niveau de la hanche droite.\n\n"
            "Cordialement,\nL'équipe des urgences - CH du Mans (démo)\n",
            when,
            attachments=[("DLU_LEFEVRE_Jeanne.pdf", "application/pdf", dlu_pdf)],
        ),
        when,
    )

    when = ago(1, 16, 5)
    letter_title = f"Lettre de liaison de sortie - {JEANNE.label}"
    letter_pdf = pdf(
        letter_title,
        [
            "Service de médecine gériatrique - CH du Mans (démonstration)",
            f"Patiente : {JEANNE.label}, née le 12/04/1938, INS {JEANNE.ins}",
            "Motif d'hospitalisation : décompensation cardiaque sur infection respiratoire.",
            "Évolution favorable sous diurétiques et antibiothérapie (amoxicilline 7 jours).",
            "Traitement de sortie : furosémide 40 mg le matin (nouveau), apixaban 2,5 mg x 2,",
            "bisoprolol 2,5 mg, donépézil 5 mg. Arrêt de l'amlodipine.",
            "Suivi : pesée quotidienne, ionogramme et créatinine à J7, consultation à 1 mois.",
        ],
    )
    letter_cda = cda(
        JEANNE,
        letter_title,
        "Hélène MOREAU",
        "Décompensation cardiaque sur infection respiratoire. Furosémide 40 mg le matin. "
        "Pesée quotidienne, ionogramme et créatinine à J7.",
        when,
    )
    letter = put(
        CLAIRE,
        _message(
            GERIATRIE,
            [CLAIRE, PAUL],
            f"Lettre de liaison - sortie de {JEANNE.label}",
            f"Chère consœur, cher confrère,\n\n{JEANNE.label} regagne votre établissement ce jour. Vous trouverez "
            "la lettre de liaison de sortie en PDF et, pour votre logiciel de soins, au format structuré "
            "(IHE_XDM.ZIP).\n\nPoints de vigilance : nouveau traitement par furosémide, pesée quotidienne, "
            "bilan biologique à J7.\n\nBien confraternellement,\nDr Hélène Moreau\nMédecine gériatrique - "
            "CH du Mans (démo)\n",
            when,
            attachments=[
                ("Lettre_liaison_LEFEVRE.pdf", "application/pdf", letter_pdf),
                (
                    "IHE_XDM.ZIP",
                    "application/zip",
                    xdm_zip(JEANNE, letter_title, letter_cda, letter_title, letter_pdf),
                ),
            ],
        ),
        when,
    )

    when = ago(2, 11, 30)
    put(
        CLAIRE,
        _message(
            LABO,
            CLAIRE,
            f"Résultats d'analyses - {ROBERT.label} - prélèvement du {ago(3).strftime('%d/%m')}",
            "Bonjour,\n\nLes résultats du bilan prescrit par le Dr Bernard sont disponibles (document joint).\n"
            "Valeur anormale signalée : INR à 3,8 (zone thérapeutique 2-3).\n\nLaboratoire Biosarthe (démo)\n",
            when,
            attachments=[
                (
                    "CR_biologie_GARNIER.pdf",
                    "application/pdf",
                    pdf(
                        f"Compte rendu de biologie - {ROBERT.label}",
                        [
                            f"INS {ROBERT.ins} (identité de démonstration)",
                            "INR : 3,8 (cible 2 - 3)   *** valeur hors zone ***",
                            "Hémoglobine : 11,9 g/dL   Plaquettes : 210 G/L",
                            "Créatinine : 98 µmol/L   DFG (CKD-EPI) : 52 mL/min/1,73 m²",
                            "Sodium : 138 mmol/L   Potassium : 4,1 mmol/L",
                        ],
                    ),
                )
            ],
        ),
        when,
        SEEN,
    )

    when = ago(2, 8, 15)
    put(CLAIRE, _html_newsletter(when), when, SEEN)

    when = ago(0, 10, 20)
    put(
        CLAIRE,
        _message(
            GENERALISTE,
            CLAIRE,
            f"URGENT - adaptation du traitement anticoagulant de {ROBERT.label}",
            f"Bonjour,\n\nSuite à l'INR à 3,8 de {ROBERT.label}, merci de suspendre la prise de fluindione ce soir "
            "et demain, puis de reprendre à 3/4 de comprimé. Contrôle de l'INR dans 72 heures.\n\n"
            "Je passerai signer la prescription jeudi. Merci de me rappeler en cas de saignement.\n\n"
            "Dr Marc Lefort\n",
            when,
        ),
        when,
        FLAGGED,
    )

    when = ago(1, 9, 5)
    put(
        CLAIRE,
        _message(
            PHARMACIE,
            CLAIRE,
            "Préparation des doses à administrer - changement de fournisseur",
            "Bonjour,\n\nÀ compter du 1er du mois prochain, les piluliers hebdomadaires seront livrés le lundi "
            "matin au lieu du mardi. Merci de nous confirmer la bonne réception de ce message (accusé de lecture "
            "demandé) afin que nous organisions la tournée.\n\nLa pharmacie des Jacobins (démo)\n",
            when,
            headers={"Disposition-Notification-To": PHARMACIE},
        ),
        when,
    )

    when = ago(3, 14, 0)
    put(
        CLAIRE,
        _message(
            KINE,
            CLAIRE,
            f"Séances de rééducation - {MARCEL.label}",
            f"Bonjour,\n\nJe propose de passer à trois séances par semaine pour {MARCEL.label} (lundi, mercredi, "
            "vendredi à 10 h). Les transferts lit-fauteuil s'améliorent ; la marche avec déambulateur reste à "
            "sécuriser.\n\nBonne journée,\nJulien Roussel\n",
            when,
        ),
        when,
        SEEN,
        ANSWERED,
    )

    when = ago(4, 17, 45)
    put(
        CLAIRE,
        _message(
            f"Paul Bernard <{PAUL}>",
            CLAIRE,
            "Commission de coordination gériatrique - ordre du jour",
            "Claire,\n\nPour la commission de jeudi : projet de soins, bilan des chutes du trimestre et "
            "protocole de prévention des escarres. Peux-tu préparer les chiffres des chutes ?\n\nMerci,\nPaul\n",
            when,
        ),
        when,
        SEEN,
    )

    # A message Claire sent to a mistyped address, its non-delivery report, and its copy in Sent.
    when = ago(1, 14, 10)
    mistyped = _message(
        f"Claire Durand <{CLAIRE}>",
        "secretariat.geriatrie@ch-lemans.demo.mssante.fr",
        f"Demande de consultation gériatrique - {MARCEL.label}",
        f"Bonjour,\n\nNous souhaiterions un rendez-vous de consultation mémoire pour {MARCEL.label}.\n\n"
        "Claire Durand, infirmière coordinatrice\nEHPAD Les Tilleuls (démo)\n",
        when,
    )
    put(CLAIRE, mistyped, when, SEEN, folder="Sent")
    when = ago(1, 14, 11)
    put(
        CLAIRE,
        _delivery_status(
            mistyped,
            "secretariat.geriatrie@ch-lemans.demo.mssante.fr",
            when,
            "host mx.ch-lemans.demo.mssante.fr said: 550 5.1.1 Recipient address rejected: User unknown",
        ),
        when,
    )

    # A message Claire sent asking for a read receipt, and the receipt.
    when = ago(3, 9, 30)
    asked = _message(
        f"Claire Durand <{CLAIRE}>",
        HAD,
        f"Transmission du plan de soins - {ROBERT.label}",
        f"Bonjour,\n\nVoici le plan de soins actualisé de {ROBERT.label} pour la reprise de l'HAD lundi.\n\n"
        "Claire Durand\n",
        when,
        headers={"Disposition-Notification-To": f"Claire Durand <{CLAIRE}>"},
    )
    put(CLAIRE, asked, when, SEEN, folder="Sent")
    when = ago(3, 11, 2)
    put(CLAIRE, _read_receipt(asked, HAD, when), when, SEEN)

    when = ago(0, 8, 50)
    put(
        CLAIRE,
        _message(
            f"Claire Durand <{CLAIRE}>",
            GENERALISTE,
            f"Re: URGENT - adaptation du traitement anticoagulant de {ROBERT.label}",
            "Bonjour Docteur,\n\nBien noté, je transmets à l'équipe de nuit. \n\n(brouillon à compléter)\n",
            when,
        ),
        when,
        DRAFT,
        folder="Drafts",
    )
    when = ago(9, 8, 0)
    put(
        CLAIRE,
        _message(
            ARS, CLAIRE, "Lettre d'information - Canicule : rappel des bonnes pratiques", "Version texte.\n", when
        ),
        when,
        SEEN,
        folder="Trash",
    )
    when = ago(5, 3, 12)
    put(
        CLAIRE,
        _message(
            "Service Client <promo@offres-sante.example.com>",
            CLAIRE,
            "Vous avez gagné un tensiomètre connecté !!!",
            "Cliquez ici pour recevoir votre cadeau : https://offres-sante.example.com/cadeau\n",
            when,
        ),
        when,
        folder="Junk",
    )

    # --- Paul Bernard, médecin coordonnateur (PER) ---
    when = ago(1, 16, 5)
    put(PAUL, letter, when)  # the same lettre de liaison, sent to both

    when = ago(0, 9, 15)
    put(
        PAUL,
        _message(
            CARDIO,
            PAUL,
            f"Compte rendu de consultation de cardiologie - {MARCEL.label}",
            f"Cher confrère,\n\nJ'ai vu ce jour en consultation {MARCEL.label}. Le compte rendu est joint.\n"
            "En résumé : insuffisance cardiaque à FEVG préservée, stable ; pas de modification du traitement.\n\n"
            "Bien confraternellement,\nDr Nadia Benali\n",
            when,
            attachments=[
                (
                    "CR_cardiologie_HAMON.pdf",
                    "application/pdf",
                    pdf(
                        f"Consultation de cardiologie - {MARCEL.label}",
                        [
                            f"INS {MARCEL.ins} (identité de démonstration)",
                            "ECG : rythme sinusal, 68/min, pas de trouble de la conduction.",
                            "Échographie : FEVG 58 %, oreillette gauche dilatée.",
                            "Conclusion : insuffisance cardiaque à FEVG préservée, stable.",
                            "Prochain contrôle dans 6 mois.",
                        ],
                    ),
                )
            ],
        ),
        when,
    )
    when = ago(2, 15, 40)
    put(
        PAUL,
        _message(
            HAD,
            PAUL,
            f"Demande d'avis - reprise de l'HAD pour {ROBERT.label}",
            "Docteur,\n\nNous envisageons une reprise de l'hospitalisation à domicile (pansements complexes) à "
            "partir de lundi. Pouvez-vous nous confirmer votre accord et les coordonnées du médecin traitant ?\n\n"
            "L'infirmière de coordination, HAD Sarthe (démo)\n",
            when,
            headers={"Disposition-Notification-To": HAD},
        ),
        when,
        FLAGGED,
    )
    when = ago(5, 10, 0)
    put(
        PAUL,
        _message(
            CPIAS,
            PAUL,
            "Alerte : cas groupés d'infections respiratoires aiguës en EHPAD",
            "Madame, Monsieur,\n\nPlusieurs épisodes de cas groupés d'IRA ont été signalés dans la région. Nous "
            "rappelons les mesures barrières et la procédure de signalement.\n\nCPias (démo)\n",
            when,
            html="<p>Madame, Monsieur,</p><p>Plusieurs épisodes de <strong>cas groupés d'IRA</strong> ont été "
            "signalés. Rappel :</p><ul><li>port du masque dès le premier cas ;</li><li>signalement au-delà de "
            "3 cas en 4 jours.</li></ul><p>CPias (démo)</p>",
        ),
        when,
        SEEN,
    )
    when = ago(4, 18, 2)
    put(
        PAUL,
        _message(
            f"Claire Durand <{CLAIRE}>",
            PAUL,
            "Re: Commission de coordination gériatrique - ordre du jour",
            "Paul,\n\n12 chutes ce trimestre dont 2 avec hospitalisation ; je t'envoie le détail demain.\n\nClaire\n",
            when,
        ),
        when,
        SEEN,
    )
    when = ago(6, 13, 20)
    put(
        PAUL,
        _message(
            f"Paul Bernard <{PAUL}>",
            GENERALISTE,
            f"Réévaluation des psychotropes - {MARCEL.label}",
            f"Cher confrère,\n\nLors de la revue des traitements, nous proposons de diminuer l'oxazépam de "
            f"{MARCEL.label}. Qu'en pensez-vous ?\n\nDr Paul Bernard, médecin coordonnateur\n",
            when,
        ),
        when,
        SEEN,
        folder="Sent",
    )
    when = ago(7, 9, 45)
    put(
        PAUL,
        _message(
            SOCIAL,
            PAUL,
            "Demande d'entrée en EHPAD - dossier ViaTrajectoire",
            "Bonjour,\n\nUne demande d'admission a été déposée pour un patient actuellement hospitalisé en SMR. "
            "Le volet médical est complété dans ViaTrajectoire.\n\nLe service social (démo)\n",
            when,
        ),
        when,
        SEEN,
    )

    # --- Secrétariat médical (ORG: delegates Sophie Petit and Claire Durand) ---
    when = ago(0, 8, 5)
    put(
        SECRETARIAT,
        _message(
            SOCIAL,
            SECRETARIAT,
            "Dossier d'admission incomplet - pièces manquantes",
            "Bonjour,\n\nIl manque au dossier d'admission de M. Hamon : l'attestation de la mutuelle et le "
            "dernier avis d'imposition. Pouvez-vous relancer la famille ?\n\nMerci,\nLe service social (démo)\n",
            when,
        ),
        when,
        FLAGGED,
    )
    when = ago(1, 11, 0)
    put(
        SECRETARIAT,
        _message(
            URGENCES,
            SECRETARIAT,
            f"Bon de transport - retour de {JEANNE.label}",
            "Bonjour,\n\nCi-joint le bon de transport pour le retour en ambulance prévu cet après-midi.\n\n"
            "Le secrétariat des urgences (démo)\n",
            when,
            attachments=[
                (
                    "Bon_transport_LEFEVRE.pdf",
                    "application/pdf",
                    pdf(
                        "Prescription médicale de transport (démonstration)",
                        [
                            f"Patiente : {JEANNE.label}",
                            "Trajet : CH du Mans -> EHPAD Les Tilleuls",
                            "Ambulance, position allongée",
                        ],
                    ),
                )
            ],
        ),
        when,
        SEEN,
    )
    when = ago(3, 15, 30)
    put(
        SECRETARIAT,
        _message(
            GERIATRIE,
            SECRETARIAT,
            "Convocation - réunion de la filière gériatrique",
            "Bonjour,\n\nLa prochaine réunion de la filière gériatrique aura lieu le premier mardi du mois à "
            "14 h, salle du conseil du CH du Mans. Merci de transmettre au médecin coordonnateur.\n\n"
            "Dr Hélène Moreau\n",
            when,
        ),
        when,
        SEEN,
    )
    when = ago(2, 10, 10)
    put(
        SECRETARIAT,
        _message(
            LABO,
            SECRETARIAT,
            "Tournée de prélèvements - nouveaux horaires",
            "Bonjour,\n\nÀ partir de lundi, l'infirmière préleveuse passera à 7 h 30 au lieu de 8 h. Merci de "
            "prévoir les bons de demande la veille.\n\nLaboratoire Biosarthe (démo)\n",
            when,
        ),
        when,
    )

    # --- Notices (APP): what the software sends, and what comes back ---
    when = ago(2, 9, 0)
    notice = _message(
        f"EHPAD Les Tilleuls - information <{NOTICES}>",
        "famille.hamon@exemple-messagerie.example.net",
        "Information sur Mon espace santé et le DMP",
        "Madame, Monsieur,\n\nVous trouverez ci-joint l'information relative à Mon espace santé et au dossier "
        "médical partagé, ainsi que vos droits d'opposition.\n\nL'accueil de l'EHPAD Les Tilleuls\n",
        when,
    )
    put(NOTICES, notice, when, SEEN, folder="Sent")
    when = ago(2, 9, 3)
    put(
        NOTICES,
        _delivery_status(
            notice,
            "famille.hamon@exemple-messagerie.example.net",
            when,
            "host mx.exemple-messagerie.example.net said: 550 5.1.1 mailbox unavailable",
        ),
        when,
    )

    # --- Reception and administration (their own addresses) ---
    when = ago(6, 9, 0)
    put(
        ACCUEIL,
        _message(
            f"Anne Martin <{ADMIN}>",
            ACCUEIL,
            "Bienvenue sur la messagerie sécurisée",
            "Bonjour Sophie,\n\nTu as désormais accès à la boîte du secrétariat médical depuis le portail. "
            "Rappel : pas de données de santé par la messagerie personnelle.\n\nAnne\n",
            when,
        ),
        when,
    )
    when = ago(8, 10, 30)
    put(
        ADMIN,
        _message(
            OPERATEUR,
            ADMIN,
            "Renouvellement du certificat de la boîte applicative",
            "Bonjour,\n\nLe certificat logiciel de la boîte notices@ arrive à échéance dans 60 jours. "
            "Pensez à le renouveler depuis l'espace de gestion.\n\nL'opérateur MSSanté (démo)\n",
            when,
        ),
        when,
    )
    return seeds
