//! Who may do what: one table of role x action, and the scope a user works in.
//! Every page and API handler asks here; templates only hide what this forbids.

use crate::domain::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ManageUsers,
    ManageAreas,
    ViewAreas,
    ManageStores,
    ViewStores,
    ViewAudit,
    ViewHouseholds,
    EditHouseholds,
    RevealPersonalData,
    ImportHouseholds,
    ExportHouseholds,
    ViewRules,
    ManageRules,
    ProposeAwards,
    ReviewAwards,
    ReverseAwards,
    ObjectToAwards,
    ViewNotice,
    ViewStatements,
    AdjustPoints,
    VerifyLedger,
    ManageSettings,
    /// Redeem points for goods at the counter (clerks: their own store).
    Redeem,
    /// See receipts and a store's day (clerks: their own store).
    ViewRedemptions,
    /// Void a redemption of an earlier day.
    VoidAnyDay,
    /// Keep the goods catalogue and stores' own prices.
    ManageCatalogue,
    /// See goods, a store's shelf and its history (clerks: their own store).
    ViewStock,
    /// See donors and their donations (clerks: at their own store).
    ViewDonors,
    /// Add donors.
    ManageDonors,
    /// Book donations in (clerks: at their own store).
    BookDonation,
    /// Move goods to another store, write off, reverse a movement, set
    /// low-stock thresholds (clerks: from their own store).
    MoveStock,
    /// Count a store's stock and post the differences (clerks: their own store).
    Stocktake,
    /// See the operations page: version, database, backups, checks, jobs.
    ViewOperations,
    /// See monthly summaries (officials and reviewers: their own area).
    ViewReports,
    /// Close a month (月结) and reopen it.
    CloseMonths,
    /// See the integrity signals (never officials or reviewers: many are
    /// about them).
    ViewSignals,
    /// Mark a signal's finding as looked into, with a note.
    MarkSignals,
}

/// Whether a role may perform an action at all (before any object's scope).
pub fn can(role: Role, action: Action) -> bool {
    use Action::*;
    use Role::*;
    match action {
        ManageUsers | ManageAreas | ManageStores => role == Admin,
        ViewHouseholds | ExportHouseholds => matches!(role, Admin | Official | Reviewer | Auditor),
        EditHouseholds | ImportHouseholds | RevealPersonalData => matches!(role, Admin | Official),
        ViewRules => true,
        Redeem => matches!(role, Admin | Clerk),
        ViewRedemptions => matches!(role, Admin | Clerk | Auditor),
        VoidAnyDay => role == Admin,
        ManageRules | ReverseAwards | AdjustPoints | ManageSettings | ViewOperations => {
            role == Admin
        }
        ProposeAwards => matches!(role, Admin | Official),
        ReviewAwards => matches!(role, Admin | Reviewer),
        ObjectToAwards => matches!(role, Admin | Official | Reviewer),
        ViewNotice | ViewStatements | ViewReports => {
            matches!(role, Admin | Official | Reviewer | Auditor)
        }
        ViewAreas | ViewStores | ViewAudit | VerifyLedger => matches!(role, Admin | Auditor),
        ManageCatalogue | CloseMonths => role == Admin,
        ViewSignals | MarkSignals => matches!(role, Admin | Auditor),
        ViewStock | ViewDonors => matches!(role, Admin | Auditor | Clerk),
        ManageDonors | BookDonation | MoveStock | Stocktake => matches!(role, Admin | Clerk),
    }
}

impl Action {
    /// Whether the operations behind this action keep to an area's subtree
    /// (households, awards, notices, statements, summaries, signals, the
    /// area tree). The others work on the whole scheme (users, rules,
    /// settings, stores and their stock, the ledgers, the audit log) and
    /// stay with unscoped administrators and auditors and with clerks at
    /// their own store: an administrator or auditor limited to a province or
    /// a city is refused them.
    pub fn follows_area(self) -> bool {
        use Action::*;
        matches!(
            self,
            ViewAreas
                | ViewHouseholds
                | EditHouseholds
                | RevealPersonalData
                | ImportHouseholds
                | ExportHouseholds
                | ViewRules
                | ProposeAwards
                | ReviewAwards
                | ObjectToAwards
                | ViewNotice
                | ViewStatements
                | ViewReports
                | ViewSignals
                | MarkSignals
        )
    }
}

/// Whether a role, working in `scope`, may perform an action at all (before
/// any object's scope): `can`, and for anyone limited to an area only the
/// actions that keep to it (`Action::follows_area`).
pub fn allowed(role: Role, scope: &Scope, action: Action) -> bool {
    can(role, action) && (action.follows_area() || !matches!(scope, Scope::Area { .. }))
}

/// The part of the scheme a user works in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Admins and auditors: the whole scheme.
    All,
    /// Officials and reviewers: an area and everything below it; admins and
    /// auditors limited to a province or a city.
    Area { id: String, path: String },
    /// Clerks: one store.
    Store { id: crate::domain::StoreId },
    /// A user whose area or store is missing sees nothing.
    Nothing,
}

impl Scope {
    /// The one answer to "which areas may this scope see", as a filter on
    /// area paths: `None` sees no area (a clerk, or a user whose area is
    /// missing), `Some(None)` every area, `Some(Some(pattern))` a subtree
    /// (a `LIKE` pattern on `areas.path`).
    pub fn area_filter(&self) -> Option<Option<String>> {
        match self {
            Scope::All => Some(None),
            Scope::Area { path, .. } => Some(Some(crate::db::path_prefix(path))),
            Scope::Store { .. } | Scope::Nothing => None,
        }
    }

    /// Whether an area (given by its path) lies inside this scope.
    pub fn covers_area_path(&self, area_path: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Area { path, .. } => area_path.starts_with(path.as_str()),
            Scope::Store { .. } | Scope::Nothing => false,
        }
    }

    /// Whether a store lies inside this scope.
    pub fn covers_store(&self, store_id: &crate::domain::StoreId, store_area_path: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Area { path, .. } => store_area_path.starts_with(path.as_str()),
            Scope::Store { id } => id == store_id,
            Scope::Nothing => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admins_manage() {
        for role in Role::ALL {
            assert_eq!(can(role, Action::ManageUsers), role == Role::Admin);
        }
        assert!(can(Role::Auditor, Action::ViewAudit));
        assert!(!can(Role::Auditor, Action::ManageAreas));
        assert!(!can(Role::Official, Action::ViewAudit));
    }

    #[test]
    fn auditors_read_stock_and_change_nothing() {
        for a in [Action::ViewStock, Action::ViewDonors, Action::VerifyLedger] {
            assert!(can(Role::Auditor, a));
        }
        for a in [
            Action::ManageCatalogue,
            Action::ManageDonors,
            Action::BookDonation,
            Action::MoveStock,
            Action::Stocktake,
        ] {
            assert!(!can(Role::Auditor, a));
            assert!(!can(Role::Official, a));
            assert!(!can(Role::Reviewer, a));
        }
        assert!(can(Role::Clerk, Action::BookDonation));
        assert!(!can(Role::Clerk, Action::ManageCatalogue));
    }

    #[test]
    fn scoped_supervisors_keep_to_their_area() {
        let province = Scope::Area {
            id: "p".into(),
            path: "/p/".into(),
        };
        for role in [Role::Admin, Role::Auditor] {
            assert!(allowed(role, &province, Action::ViewReports));
            assert!(allowed(role, &province, Action::ViewHouseholds));
            assert!(!allowed(role, &province, Action::ViewAudit));
            assert!(!allowed(role, &province, Action::VerifyLedger));
            assert!(allowed(role, &Scope::All, Action::ViewAudit));
        }
        assert!(!allowed(Role::Admin, &province, Action::ManageUsers));
        assert!(!allowed(Role::Admin, &province, Action::Redeem));
        // Officials and reviewers keep every right they had.
        for action in [
            Action::ViewHouseholds,
            Action::EditHouseholds,
            Action::ProposeAwards,
            Action::ViewReports,
        ] {
            assert_eq!(
                allowed(Role::Official, &province, action),
                can(Role::Official, action)
            );
        }
    }

    #[test]
    fn area_scope_is_a_subtree() {
        let s = Scope::Area {
            id: "b".into(),
            path: "/a/b/".into(),
        };
        assert!(s.covers_area_path("/a/b/"));
        assert!(s.covers_area_path("/a/b/c/"));
        assert!(!s.covers_area_path("/a/"));
        assert!(!s.covers_area_path("/a/bb/"));
        let s = crate::domain::StoreId::from_stored("s".into());
        let t = crate::domain::StoreId::from_stored("t".into());
        assert!(!Scope::Store { id: s.clone() }.covers_area_path("/a/"));
        assert!(Scope::Store { id: s.clone() }.covers_store(&s, "/x/"));
        assert!(!Scope::Store { id: s.clone() }.covers_store(&t, "/x/"));
    }
}
