//! Activities gain a `priority` (`low`, `medium`, `high`; default `medium`) and a `status`
//! (`pending`, `in_progress`, `completed`), kept consistent with `completed` by the API: a
//! completed activity is `completed`, an open one `pending` or `in_progress`. Existing rows
//! take `completed` where they are done and `pending` elsewhere. Both columns are filtered
//! within a viewer's scope like the other activity columns; "my open tasks by priority"
//! reads the assignee index first, so no new index is added.

use sea_orm_migration::prelude::*;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(
            manager,
            &[
                "ALTER TABLE activities ADD COLUMN priority VARCHAR(32) NOT NULL DEFAULT 'medium'",
                "ALTER TABLE activities ADD COLUMN status VARCHAR(32) NOT NULL DEFAULT 'pending'",
                "UPDATE activities SET status = 'completed' WHERE completed",
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(
            manager,
            &[
                "ALTER TABLE activities DROP COLUMN status",
                "ALTER TABLE activities DROP COLUMN priority",
            ],
        )
        .await
    }
}
