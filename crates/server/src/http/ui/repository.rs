//! The page of one repository: tags and their signers, delegations and their keys, the root
//! and server-held keys, and the expiry timeline.

use std::fmt::{self, Write as _};

use chrono::{DateTime, Utc};

use super::html::{Esc, close_page, open_page};
use super::timeline::{Urgency, timeline};
use crate::service::{RepositoryOverview, RoleKeyIds};

/// The whole page of `repo` at `now`.
pub(crate) fn render(repo: &RepositoryOverview, now: DateTime<Utc>) -> Result<String, fmt::Error> {
    let mut out = String::with_capacity(16 * 1024);
    open_page(&mut out, &repo.gun)?;
    write!(
        out,
        "<h1>Repository <code class=\"gun\">{}</code></h1>",
        Esc(&repo.gun)
    )?;
    summary(&mut out, repo, now)?;
    for (role, reason) in &repo.unreadable {
        write!(
            out,
            "<p class=\"problem\">The current file of <code>{}</code> could not be read: {}</p>",
            Esc(role),
            Esc(reason)
        )?;
    }
    tags(&mut out, repo)?;
    out.write_str("<h2 id=\"expiry\">Expiry</h2>")?;
    timeline(&mut out, &repo.roles, now)?;
    keys(&mut out, repo)?;
    delegations(&mut out, repo)?;
    close_page(&mut out)?;
    Ok(out)
}

/// One line on what needs attention: expired roles and roles expiring within 7 and 30 days.
fn summary(out: &mut String, repo: &RepositoryOverview, now: DateTime<Utc>) -> fmt::Result {
    let count = |u: Urgency| {
        repo.roles
            .iter()
            .filter(|r| Urgency::of_role(r, now) == u)
            .count()
    };
    let expired = count(Urgency::Expired);
    let week = count(Urgency::Within7Days);
    let month = count(Urgency::Within30Days);
    if expired + week + month == 0 {
        return out.write_str(
            "<p class=\"summary expiry-ok\">No role signed by the repository's owners expires \
             within 30 days.</p>",
        );
    }
    out.write_str(
        "<p class=\"summary attention\">Roles signed by the repository's owners that need \
         attention:",
    )?;
    for (n, urgency, what) in [
        (expired, Urgency::Expired, "expired"),
        (week, Urgency::Within7Days, "within 7 days"),
        (month, Urgency::Within30Days, "within 30 days"),
    ] {
        if n > 0 {
            write!(
                out,
                " <span class=\"badge {}\">{n} {what}</span>",
                urgency.class()
            )?;
        }
    }
    out.write_str("</p>")
}

fn tags(out: &mut String, repo: &RepositoryOverview) -> fmt::Result {
    write!(
        out,
        "<h2 id=\"tags\">Signed tags <span class=\"count\">{}</span></h2>",
        repo.targets.len()
    )?;
    if repo.targets.is_empty() {
        return out.write_str("<p class=\"empty\">No signed tags.</p>");
    }
    out.write_str(
        "<table class=\"tags\"><thead><tr><th>Tag</th><th>Digest (sha256)</th><th>Size</th>\
         <th>Signers</th><th>Signing roles</th></tr></thead><tbody>",
    )?;
    for t in &repo.targets {
        write!(
            out,
            "<tr><td class=\"tag\">{}</td><td><code class=\"digest\">{}</code></td>\
             <td class=\"size\">{}</td><td class=\"signers\">",
            Esc(&t.name),
            Esc(&t.sha256),
            t.length
        )?;
        for (i, s) in t.signers().iter().enumerate() {
            if i > 0 {
                out.write_str(", ")?;
            }
            write!(out, "<span class=\"signer\">{}</span>", Esc(s))?;
        }
        out.write_str("</td><td class=\"roles\">")?;
        for (i, r) in t.roles.iter().enumerate() {
            if i > 0 {
                out.write_str(" ")?;
            }
            write!(out, "<code>{}</code>", Esc(r))?;
        }
        out.write_str("</td></tr>")?;
    }
    out.write_str("</tbody></table>")
}

/// A list of key IDs with the threshold.
fn key_list(out: &mut String, keys: &RoleKeyIds) -> fmt::Result {
    write!(
        out,
        "<span class=\"threshold\">threshold {} of {}</span><ul class=\"keys\">",
        keys.threshold,
        keys.key_ids.len()
    )?;
    for id in &keys.key_ids {
        write!(out, "<li><code class=\"keyid\">{}</code></li>", Esc(id))?;
    }
    out.write_str("</ul>")
}

fn keys(out: &mut String, repo: &RepositoryOverview) -> fmt::Result {
    out.write_str(
        "<h2 id=\"keys\">Keys</h2><table class=\"keys\"><thead><tr><th>Role</th><th>Keys</th>\
         <th>Held by</th></tr></thead><tbody>",
    )?;
    for (role, keys) in [("root", &repo.root_keys), ("targets", &repo.targets_keys)] {
        write!(
            out,
            "<tr data-role=\"{role}\"><td><code>{role}</code></td><td>"
        )?;
        key_list(out, keys)?;
        out.write_str("</td><td>the repository's owners</td></tr>")?;
    }
    for s in &repo.server_roles {
        write!(
            out,
            "<tr data-role=\"{}\" class=\"server-role\"><td><code>{}</code></td><td>",
            Esc(&s.role),
            Esc(&s.role)
        )?;
        key_list(out, &s.keys)?;
        out.write_str("</td><td>")?;
        if s.held.is_empty() {
            out.write_str("the repository's owners")?;
        } else {
            out.write_str("<span class=\"server-held\">the server</span>")?;
            for (id, state) in &s.held {
                write!(
                    out,
                    " <span class=\"note\">{} {}</span>",
                    Esc(id.get(..8).unwrap_or(id)),
                    Esc(state.as_str())
                )?;
            }
        }
        out.write_str("</td></tr>")?;
    }
    out.write_str("</tbody></table>")
}

fn delegations(out: &mut String, repo: &RepositoryOverview) -> fmt::Result {
    write!(
        out,
        "<h2 id=\"delegations\">Delegations <span class=\"count\">{}</span></h2>",
        repo.delegations.len()
    )?;
    if repo.delegations.is_empty() {
        return out.write_str("<p class=\"empty\">No delegations.</p>");
    }
    out.write_str(
        "<table class=\"delegations\"><thead><tr><th>Role</th><th>Signer</th><th>Keys</th>\
         <th>Paths</th><th>Declared by</th></tr></thead><tbody>",
    )?;
    for d in &repo.delegations {
        write!(
            out,
            "<tr data-role=\"{}\"><td><code>{}</code></td><td>{}</td><td>",
            Esc(&d.name),
            Esc(&d.name),
            Esc(signet_tuf::role::docker_signer(&d.name))
        )?;
        key_list(out, &d.keys)?;
        out.write_str("</td><td><ul class=\"paths\">")?;
        for p in &d.paths {
            if p.is_empty() {
                out.write_str("<li class=\"note\">every path</li>")?;
            } else {
                write!(out, "<li><code>{}</code></li>", Esc(p))?;
            }
        }
        write!(
            out,
            "</ul></td><td><code>{}</code></td></tr>",
            Esc(&d.declared_by)
        )?;
    }
    out.write_str("</tbody></table>")
}
