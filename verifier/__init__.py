"""The verifier: a role of its own, for observers, auditors and trustees (`ivote verify`).

It imports crypto/ and formats/ only, never the tallier's code: it re-checks what the tallier
made from the published record, the observers' bundle and, for auditors, the signed ballot box
and paper-voter list (docs/spec.md, "Verifier checks").
"""
