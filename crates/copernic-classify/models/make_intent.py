#!/usr/bin/env python3
"""Builds the training set of the shipped intent model from real labelled corpora in
../shared/data, by mapping their fine-grained labels onto Copernic's intents (the table below is
the whole rule; see README.md beside this file for why each corpus is used and its licence).

    python3 make_intent.py DATA_DIR OUT.csv

Intents: question, complaint, praise, purchase_intent, churn_risk, other. `spam` is not learned
(no labelled corpus): it is produced by the near-duplicate detector (see README.md)."""
import csv
import sys

BANKING77 = {
    "complaint": """Refund_not_showing_up balance_not_updated_after_bank_transfer
        balance_not_updated_after_cheque_or_cash_deposit card_not_working card_payment_fee_charged
        card_payment_not_recognised card_payment_wrong_exchange_rate card_swallowed
        cash_withdrawal_charge cash_withdrawal_not_recognised compromised_card
        contactless_not_working declined_card_payment declined_cash_withdrawal declined_transfer
        direct_debit_payment_not_recognised extra_charge_on_statement failed_transfer
        lost_or_stolen_card lost_or_stolen_phone pin_blocked request_refund reverted_card_payment?
        top_up_failed top_up_reverted transaction_charged_twice transfer_fee_charged
        transfer_not_received_by_recipient unable_to_verify_identity virtual_card_not_working
        wrong_amount_of_cash_received wrong_exchange_rate_for_cash_withdrawal card_arrival""",
    "churn_risk": "terminate_account",
    "purchase_intent": """get_physical_card getting_spare_card getting_virtual_card
        get_disposable_virtual_card order_physical_card""",
}
CLINC150 = {
    "complaint": "account_blocked damaged_card report_fraud report_lost_card card_declined lost_luggage",
    "purchase_intent": "book_flight book_hotel car_rental order new_card restaurant_reservation",
    "praise": "thank_you",
    # Banking and account questions of CLINC's banking and credit-card domains.
    "question": """balance bill_balance bill_due apr credit_limit credit_score expiration_date
        interest_rate international_fees min_payment pay_bill order_status application_status
        replacement_card_duration rewards_balance routing spending_history transactions
        exchange_rate redeem_rewards improve_credit_score credit_limit_change insurance
        direct_deposit account_blocked_status order_checks pin_change freeze_account transfer
        report_fraud_status taxes w2 income payday rollover_401k""",
}


def table(spec):
    out = {}
    for intent, names in spec.items():
        for n in names.split():
            out[n] = intent
    return out


def main(data, out_path):
    b77, clinc = table(BANKING77), table(CLINC150)
    rows = []
    with open(f"{data}/banking77/train.csv", newline="") as f:
        for r in csv.DictReader(f):
            # Every banking77 request is a customer asking the bank something; those not mapped
            # to a problem, an exit or a purchase are questions.
            rows.append((r["text"], b77.get(r["category"], "question"), "banking77"))
    for name in ("train", "val"):
        with open(f"{data}/clinc150/{name}.csv", newline="") as f:
            for r in csv.DictReader(f):
                # The assistant's other domains (alarms, recipes, travel, small talk) and
                # out-of-scope requests are not addressed to a brand: other.
                rows.append((r["text"], clinc.get(r["intent"], "other"), "clinc150"))
    with open(f"{data}/allocine-sample/train.csv", newline="") as f:
        for r in csv.DictReader(f):
            # French product reviews: a positive review praises, a negative one complains.
            rows.append((r["text"], "praise" if r["label"] == "1" else "complaint", "allocine"))
    with open(out_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label", "source"])
        w.writerows(rows)
    counts = {}
    for _, label, _ in rows:
        counts[label] = counts.get(label, 0) + 1
    print(f"{len(rows)} rows: {dict(sorted(counts.items()))}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
