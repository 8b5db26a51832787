// The tables of both backends. Columns use only the SQL types that diesel's MultiConnection
// supports on both: identifiers are `Text`, instants are `BigInt` microseconds since the epoch.

diesel::table! {
    settings (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    units (edition, code) {
        edition -> Integer,
        code -> Text,
        name -> Text,
        name_folded -> Text,
        level -> Text,
        division_type -> Text,
        parent_code -> Nullable<Text>,
        path -> Text,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        display_name -> Text,
        password_hash -> Text,
        role -> Text,
        scope_edition -> Nullable<Integer>,
        scope_code -> Nullable<Text>,
        scope_path -> Nullable<Text>,
        disabled -> Bool,
        created_at -> BigInt,
        created_by -> Nullable<Text>,
    }
}

diesel::table! {
    assets (code) {
        code -> Text,
        name -> Text,
        unit -> Text,
        scale -> Integer,
        kind -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    funds (id) {
        id -> Text,
        unit_edition -> Integer,
        unit_code -> Text,
        unit_path -> Text,
        name -> Text,
        custodian -> Text,
        custodian_kind -> Text,
        created_at -> BigInt,
        created_by -> Text,
        chain_seq -> BigInt,
        chain_head -> Text,
        dual_approval_above_vnd -> Nullable<BigInt>,
    }
}

diesel::table! {
    fund_bank_accounts (id) {
        id -> Text,
        fund_id -> Text,
        bank -> Text,
        account_number -> Text,
        account_name -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    accounts (id) {
        id -> Text,
        fund_id -> Text,
        kind -> Text,
        asset -> Text,
        designation -> Text,
        posted -> BigInt,
        reserved -> BigInt,
    }
}

diesel::table! {
    entries (id) {
        id -> Text,
        fund_id -> Text,
        seq -> BigInt,
        kind -> Text,
        reason -> Text,
        actor_id -> Text,
        ref_type -> Nullable<Text>,
        ref_id -> Nullable<Text>,
        reverses_entry_id -> Nullable<Text>,
        effective_at -> BigInt,
        recorded_at -> BigInt,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    postings (entry_id, idx) {
        entry_id -> Text,
        idx -> Integer,
        account_id -> Text,
        asset -> Text,
        amount -> BigInt,
    }
}

diesel::table! {
    holds (id) {
        id -> Text,
        fund_id -> Text,
        account_id -> Text,
        asset -> Text,
        amount -> BigInt,
        status -> Text,
        posted_amount -> Nullable<BigInt>,
        entry_id -> Nullable<Text>,
        ref_type -> Nullable<Text>,
        ref_id -> Nullable<Text>,
        reason -> Text,
        created_at -> BigInt,
        created_by -> Text,
        resolved_at -> Nullable<BigInt>,
        resolved_by -> Nullable<Text>,
    }
}

diesel::joinable!(postings -> entries (entry_id));
diesel::joinable!(postings -> accounts (account_id));
diesel::joinable!(fund_bank_accounts -> funds (fund_id));
diesel::allow_tables_to_appear_in_same_query!(
    assets,
    funds,
    fund_bank_accounts,
    accounts,
    entries,
    postings,
    holds,
    units,
    users
);

diesel::table! {
    campaigns (id) {
        id -> Text,
        fund_id -> Text,
        name -> Text,
        appeal_ref -> Text,
        opens_on -> Text,
        closes_on -> Text,
        incident_id -> Nullable<Text>,
        bank_account_id -> Nullable<Text>,
        closed_at -> Nullable<BigInt>,
        closed_by -> Nullable<Text>,
        created_at -> BigInt,
        created_by -> Text,
    }
}

diesel::table! {
    campaign_extensions (id) {
        id -> Text,
        campaign_id -> Text,
        previous_closes_on -> Text,
        closes_on -> Text,
        decision_ref -> Text,
        created_at -> BigInt,
        created_by -> Text,
    }
}

diesel::table! {
    donors (id) {
        id -> Text,
        kind -> Text,
        name -> Text,
        name_folded -> Text,
        phone -> Nullable<Text>,
        email -> Nullable<Text>,
        address -> Nullable<Text>,
        tax_code -> Nullable<Text>,
        country -> Nullable<Text>,
        publish_name -> Bool,
        scope_edition -> Nullable<Integer>,
        scope_path -> Nullable<Text>,
        created_at -> BigInt,
        created_by -> Text,
    }
}

diesel::table! {
    donations (id) {
        id -> Text,
        fund_id -> Text,
        campaign_id -> Nullable<Text>,
        donor_id -> Nullable<Text>,
        status -> Text,
        channel -> Text,
        bank_account_id -> Nullable<Text>,
        bank_ref -> Nullable<Text>,
        received_at -> BigInt,
        recorded_at -> BigInt,
        receipt_year -> Nullable<Integer>,
        receipt_seq -> Nullable<BigInt>,
        receipt_no -> Nullable<Text>,
        entry_id -> Nullable<Text>,
        fulfills_pledge_id -> Nullable<Text>,
        designation -> Text,
        earmark_incident_id -> Nullable<Text>,
        earmark_unit_edition -> Nullable<Integer>,
        earmark_unit_code -> Nullable<Text>,
        earmark_household_id -> Nullable<Text>,
        earmark_purpose -> Nullable<Text>,
        total_vnd -> BigInt,
        note -> Nullable<Text>,
        reversal_entry_id -> Nullable<Text>,
        reversed_at -> Nullable<BigInt>,
        reversal_reason -> Nullable<Text>,
        created_by -> Text,
    }
}

diesel::table! {
    donation_lines (donation_id, idx) {
        donation_id -> Text,
        idx -> Integer,
        asset -> Text,
        amount -> BigInt,
        value_vnd -> Nullable<BigInt>,
        description -> Nullable<Text>,
    }
}

diesel::table! {
    receipt_counters (fund_id, year) {
        fund_id -> Text,
        year -> Integer,
        last_seq -> BigInt,
    }
}

diesel::table! {
    idempotency_keys (user_id, key) {
        user_id -> Text,
        key -> Text,
        fingerprint -> Text,
        status -> Integer,
        body -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    bank_statements (id) {
        id -> Text,
        fund_id -> Text,
        bank_account_id -> Text,
        lines_total -> Integer,
        lines_new -> Integer,
        first_date -> Nullable<Text>,
        last_date -> Nullable<Text>,
        imported_at -> BigInt,
        imported_by -> Text,
    }
}

diesel::table! {
    bank_statement_lines (id) {
        id -> Text,
        statement_id -> Text,
        bank_account_id -> Text,
        line_no -> Integer,
        line_key -> Text,
        booked_on -> Text,
        amount -> BigInt,
        reference -> Nullable<Text>,
        counterparty -> Nullable<Text>,
        message -> Nullable<Text>,
        donation_id -> Nullable<Text>,
    }
}

diesel::joinable!(donation_lines -> donations (donation_id));
diesel::allow_tables_to_appear_in_same_query!(
    campaigns,
    campaign_extensions,
    donors,
    donations,
    donation_lines,
    receipt_counters,
    idempotency_keys,
    bank_statements,
    bank_statement_lines
);
diesel::allow_tables_to_appear_in_same_query!(donations, funds);
// The public donation lookup: a donation with its fund, unit, campaign and donor.
diesel::allow_tables_to_appear_in_same_query!(donations, units);
diesel::allow_tables_to_appear_in_same_query!(campaigns, funds);
diesel::allow_tables_to_appear_in_same_query!(campaigns, units);
diesel::allow_tables_to_appear_in_same_query!(donors, funds);
diesel::allow_tables_to_appear_in_same_query!(donors, units);

diesel::table! {
    incidents (id) {
        id -> Text,
        kind -> Text,
        name -> Text,
        started_at -> BigInt,
        ended_at -> Nullable<BigInt>,
        status -> Text,
        closed_at -> Nullable<BigInt>,
        created_at -> BigInt,
        created_by -> Text,
    }
}

diesel::table! {
    incident_units (incident_id, unit_edition, unit_code) {
        incident_id -> Text,
        unit_edition -> Integer,
        unit_code -> Text,
        unit_path -> Text,
    }
}

diesel::table! {
    households (id) {
        id -> Text,
        unit_edition -> Integer,
        unit_code -> Text,
        unit_path -> Text,
        head_name -> Text,
        head_name_folded -> Text,
        address -> Text,
        poverty_status -> Text,
        created_at -> BigInt,
        created_by -> Text,
    }
}

diesel::table! {
    household_members (id) {
        id -> Text,
        household_id -> Text,
        idx -> Integer,
        name -> Text,
        birth_year -> Integer,
        sex -> Text,
        flags -> Text,
        is_head -> Bool,
        id_hmac -> Nullable<Text>,
        id_last4 -> Nullable<Text>,
        unit_edition -> Integer,
        unit_code -> Text,
    }
}

diesel::table! {
    assessments (id) {
        id -> Text,
        incident_id -> Text,
        household_id -> Text,
        version -> Integer,
        supersedes_id -> Nullable<Text>,
        is_current -> Bool,
        deaths -> Integer,
        missing -> Integer,
        severely_injured -> Integer,
        house_damage -> Text,
        people_needing_food -> Integer,
        months_of_food -> Integer,
        assessor -> Text,
        assessed_on -> Text,
        note -> Nullable<Text>,
        recorded_at -> BigInt,
        recorded_by -> Text,
    }
}

diesel::table! {
    policies (id) {
        id -> Text,
        legal_basis -> Text,
        province_edition -> Nullable<Integer>,
        province_code -> Nullable<Text>,
        effective_from -> Text,
        effective_to -> Nullable<Text>,
        standard_level_vnd -> BigInt,
        rules -> Text,
        created_at -> BigInt,
        created_by -> Nullable<Text>,
    }
}

diesel::joinable!(incident_units -> incidents (incident_id));
diesel::joinable!(household_members -> households (household_id));
diesel::joinable!(assessments -> households (household_id));
diesel::allow_tables_to_appear_in_same_query!(
    incidents,
    incident_units,
    households,
    household_members,
    assessments,
    policies
);

diesel::table! {
    disbursements (id) {
        id -> Text,
        fund_id -> Text,
        incident_id -> Nullable<Text>,
        household_id -> Text,
        assessment_id -> Nullable<Text>,
        purpose -> Text,
        status -> Text,
        approvals_needed -> Integer,
        total_vnd -> BigInt,
        proposed_by -> Text,
        proposed_at -> BigInt,
        method -> Nullable<Text>,
        reference -> Nullable<Text>,
        received_by -> Nullable<Text>,
        paid_at -> Nullable<BigInt>,
        days_since_incident -> Nullable<Integer>,
        days_since_assessment -> Nullable<Integer>,
    }
}

diesel::table! {
    disbursement_lines (disbursement_id, idx) {
        disbursement_id -> Text,
        idx -> Integer,
        category -> Text,
        asset -> Text,
        amount -> BigInt,
    }
}

diesel::table! {
    allocations (id) {
        id -> Text,
        from_fund_id -> Text,
        to_fund_id -> Text,
        decision_ref -> Text,
        round -> Integer,
        purpose -> Text,
        status -> Text,
        approvals_needed -> Integer,
        total_vnd -> BigInt,
        proposed_by -> Text,
        proposed_at -> BigInt,
        executed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    allocation_lines (allocation_id, idx) {
        allocation_id -> Text,
        idx -> Integer,
        asset -> Text,
        amount -> BigInt,
    }
}

diesel::table! {
    payout_events (id) {
        id -> Text,
        subject_type -> Text,
        subject_id -> Text,
        action -> Text,
        actor_id -> Text,
        at -> BigInt,
        note -> Nullable<Text>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    disbursements,
    disbursement_lines,
    allocations,
    allocation_lines,
    payout_events
);

// What a fund paid per commune of the households (public statement): payouts grouped by the
// household's unit.
diesel::allow_tables_to_appear_in_same_query!(disbursements, households);
diesel::allow_tables_to_appear_in_same_query!(disbursement_lines, households);
diesel::allow_columns_to_appear_in_same_group_by_clause!(
    households::unit_edition,
    households::unit_code,
    disbursement_lines::asset,
);

diesel::table! {
    audit_events (id) {
        id -> Text,
        occurred_at -> BigInt,
        actor_id -> Text,
        actor_role -> Text,
        request_id -> Text,
        action -> Text,
        entity_type -> Nullable<Text>,
        entity_id -> Nullable<Text>,
        fund_id -> Nullable<Text>,
        unit_edition -> Nullable<Integer>,
        unit_path -> Nullable<Text>,
        detail -> Text,
    }
}

diesel::table! {
    checkpoints (id) {
        id -> Text,
        fund_id -> Text,
        seq -> BigInt,
        hash -> Text,
        signed_at -> BigInt,
        key_id -> Text,
        signature -> Text,
    }
}

// Grouped sums of the public statements and the reports group by columns of joined tables.
diesel::allow_columns_to_appear_in_same_group_by_clause!(
    entries::kind,
    entries::ref_type,
    postings::asset,
);
diesel::allow_columns_to_appear_in_same_group_by_clause!(entries::id, postings::asset);
diesel::allow_columns_to_appear_in_same_group_by_clause!(
    entries::reverses_entry_id,
    postings::asset
);
diesel::allow_columns_to_appear_in_same_group_by_clause!(donation_lines::asset, donations::status);
diesel::allow_columns_to_appear_in_same_group_by_clause!(donations::channel, donation_lines::asset);
diesel::allow_columns_to_appear_in_same_group_by_clause!(donations::fund_id, donation_lines::asset);
