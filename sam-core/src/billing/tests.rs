//! Invoice arithmetic without a database.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use super::invoice::{compute_invoice, Adjustment, ClientUsage, InvoiceHeader};
use super::*;
use crate::metering::{Month, UsageTotals};
use crate::tenancy::Tier;

fn plan(model_cost: ModelCost, markup: Decimal) -> ResolvedPlan {
    ResolvedPlan {
        tier: Tier::Enterprise,
        currency: Currency::Usd,
        base_fee: dec!(100.00),
        included_evaluations: 10,
        price_per_evaluation: dec!(0.10),
        model_cost,
        markup_percent: markup,
        usd_to_clp: None,
    }
}

fn client(id: &str, events: i64, cost_nanos: i64) -> ClientUsage {
    ClientUsage {
        client_id: id.to_owned(),
        client_name: format!("Client {id}"),
        totals: UsageTotals {
            events,
            cost_nanos,
            ..UsageTotals::default()
        },
    }
}

fn invoice(plan: &ResolvedPlan, clients: &[ClientUsage], adjustments: &[Adjustment]) -> Invoice {
    let header = InvoiceHeader {
        partner_id: "aptus",
        partner_name: "Aptus",
        month: "2026-03".parse::<Month>().unwrap(),
        plan,
        platform_usd_to_clp: None,
    };
    compute_invoice(&header, clients, adjustments).unwrap()
}

fn line(invoice: &Invoice, kind: LineKind) -> &InvoiceLine {
    invoice.lines.iter().find(|l| l.kind == kind).unwrap()
}

fn assert_clients_add_up(invoice: &Invoice) {
    let client_sum: Decimal = invoice.clients.iter().map(|c| c.total).sum();
    assert_eq!(client_sum, invoice.total, "client totals vs partner total");
    for partner_line in &invoice.lines {
        let parts: Decimal = invoice
            .clients
            .iter()
            .flat_map(|c| &c.lines)
            .filter(|l| {
                l.kind == partner_line.kind && l.adjusts_month == partner_line.adjusts_month
            })
            .map(|l| l.amount)
            .sum();
        assert_eq!(parts, partner_line.amount, "{:?}", partner_line.kind);
    }
    for client in &invoice.clients {
        let lines: Decimal = client.lines.iter().map(|l| l.amount).sum();
        assert_eq!(lines, client.total, "{}", client.client_id);
    }
}

#[test]
fn markup_of_twenty_percent_on_302() {
    let plan = plan(ModelCost::AtCost, dec!(20));
    let invoice = invoice(&plan, &[client("c1", 5, 302_000_000_000)], &[]);
    assert_eq!(line(&invoice, LineKind::ModelCost).amount, dec!(302.00));
    assert_eq!(
        line(&invoice, LineKind::ModelMarkup).amount.to_string(),
        "60.40"
    );
    assert_eq!(invoice.total, dec!(462.40));
}

#[test]
fn tenths_add_to_exactly_sixty_cents() {
    let sum: Decimal = [dec!(0.10), dec!(0.20), dec!(0.30)].iter().sum();
    assert_eq!(sum.to_string(), "0.60");
    let plan = plan(ModelCost::AtCost, Decimal::ZERO);
    let clients = [
        client("a", 1, 100_000_000),
        client("b", 1, 200_000_000),
        client("c", 1, 300_000_000),
    ];
    let invoice = invoice(&plan, &clients, &[]);
    assert_eq!(
        line(&invoice, LineKind::ModelCost).amount.to_string(),
        "0.60"
    );
    let parts: Vec<String> = invoice
        .clients
        .iter()
        .map(|c| {
            c.lines
                .iter()
                .find(|l| l.kind == LineKind::ModelCost)
                .unwrap()
                .amount
                .to_string()
        })
        .collect();
    assert_eq!(parts, ["0.10", "0.20", "0.30"]);
    assert_clients_add_up(&invoice);
}

#[test]
fn overage_beyond_included() {
    let plan = plan(ModelCost::Included, Decimal::ZERO);
    let invoice = invoice(&plan, &[client("a", 7, 0), client("b", 8, 0)], &[]);
    assert_eq!(
        line(&invoice, LineKind::IncludedAllowance).quantity,
        dec!(10)
    );
    let overage = line(&invoice, LineKind::Overage);
    assert_eq!(overage.quantity, dec!(5));
    assert_eq!(overage.amount, dec!(0.50));
    assert_eq!(invoice.total, dec!(100.50));
    assert!(invoice.lines.iter().all(|l| l.kind != LineKind::ModelCost));
    assert_clients_add_up(&invoice);
}

#[test]
fn base_fee_split_in_thirds_adds_up() {
    let plan = plan(ModelCost::AtCost, dec!(12.5));
    let clients = [
        client("a", 1, 333_333_333),
        client("b", 1, 333_333_333),
        client("c", 1, 333_333_334),
    ];
    let invoice = invoice(&plan, &clients, &[]);
    let base: Vec<Decimal> = invoice.clients.iter().map(|c| c.lines[0].amount).collect();
    assert_eq!(base, [dec!(33.34), dec!(33.33), dec!(33.33)]);
    assert_clients_add_up(&invoice);
}

#[test]
fn month_without_usage_is_unallocated() {
    let plan = plan(ModelCost::Included, Decimal::ZERO);
    let invoice = invoice(&plan, &[], &[]);
    assert_eq!(invoice.total, dec!(100.00));
    assert_eq!(invoice.clients.len(), 1);
    assert_eq!(invoice.clients[0].client_id, UNALLOCATED_CLIENT);
    assert_clients_add_up(&invoice);
}

#[test]
fn adjustment_lines_add_up() {
    let plan = plan(ModelCost::Included, Decimal::ZERO);
    let adjustment = Adjustment {
        month: "2026-02".parse().unwrap(),
        evaluations: 3,
        clients: vec![
            ("a".to_owned(), "Client a".to_owned(), dec!(0.20)),
            ("z".to_owned(), "Client z".to_owned(), dec!(0.10)),
        ],
    };
    let invoice = invoice(&plan, &[client("a", 1, 0)], &[adjustment]);
    let adjustment = line(&invoice, LineKind::Adjustment);
    assert_eq!(adjustment.amount, dec!(0.30));
    assert_eq!(adjustment.adjusts_month.unwrap().to_string(), "2026-02");
    assert_eq!(invoice.total, dec!(100.30));
    assert_clients_add_up(&invoice);
}

#[test]
fn clp_converts_cost_at_configured_rate() {
    let mut plan = plan(ModelCost::AtCost, dec!(10));
    plan.currency = Currency::Clp;
    plan.base_fee = dec!(450000);
    plan.usd_to_clp = Some(dec!(943.21));
    // 1.5 USD of cost is 1414.815 CLP, billed as 1415; the markup of
    // 141.4815 CLP is billed as 141.
    let invoice = invoice(&plan, &[client("a", 1, 1_500_000_000)], &[]);
    assert_eq!(
        line(&invoice, LineKind::ModelCost).amount.to_string(),
        "1415"
    );
    assert_eq!(
        line(&invoice, LineKind::ModelMarkup).amount.to_string(),
        "141"
    );
    assert_eq!(
        line(&invoice, LineKind::BaseFee).amount.to_string(),
        "450000"
    );
    assert_clients_add_up(&invoice);
}

#[test]
fn platform_part_can_be_omitted() {
    let plan = plan(ModelCost::Included, Decimal::ZERO);
    let invoice = invoice(&plan, &[client("a", 1, 2_000_000_000)], &[]);
    let platform = invoice.platform.clone().unwrap();
    assert_eq!(platform.provider_cost, Some(dec!(2.00)));
    assert_eq!(platform.margin, Some(dec!(98.00)));
    let json = serde_json::to_value(invoice.without_platform()).unwrap();
    assert!(json.get("platform").is_none(), "{json}");
}

#[test]
fn csv_export_quotes_formulas_keeps_numbers() {
    let plan = plan(ModelCost::Included, Decimal::ZERO);
    let names = [
        "=HYPERLINK(\"http://x\",\"y\")",
        "@SUM(1+1)",
        "+1",
        "\t=1+1",
    ];
    let clients: Vec<ClientUsage> = names
        .iter()
        .enumerate()
        .map(|(i, name)| ClientUsage {
            client_name: (*name).to_owned(),
            ..client(&format!("c{i}"), 1, 0)
        })
        .collect();
    let adjustment = Adjustment {
        month: "2026-02".parse().unwrap(),
        evaluations: -1,
        clients: vec![("c0".to_owned(), names[0].to_owned(), dec!(-12.50))],
    };
    let mut invoice = invoice(&plan, &clients, &[adjustment]);
    invoice.partner_name = "-2+3".to_owned();
    let mut out = Vec::new();
    export::write_csv(&mut out, &[invoice]).unwrap();
    let mut reader = csv::Reader::from_reader(out.as_slice());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    for name in names {
        let quoted = format!("'{name}");
        assert!(rows.iter().any(|r| r[7] == quoted), "{name:?} not quoted");
        assert!(rows.iter().all(|r| &r[7] != name), "{name:?} left raw");
    }
    assert!(rows.iter().all(|r| &r[1] == "'-2+3"));
    let adjustment_amounts: Vec<&str> = rows
        .iter()
        .filter(|r| &r[8] == "adjustment")
        .map(|r| r.get(13).unwrap())
        .collect();
    assert_eq!(adjustment_amounts, ["-12.50", "-12.50"]);
}
