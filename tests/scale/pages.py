"""The three pages whose statement counts are pinned, as a client would ask for them.

Shared by the statement-count tests and scripts/bench, so the benchmark measures the
same documents the tests pin.
"""

SESSION_FIELDS = """
  id title objective startsAt endsAt durationMinutes minParticipants maxParticipants
  participantCount spotsLeft isFull status cancellationReason url
  viewerIsHost viewerIsAttending viewerCanJoin viewerCannotJoinReasons viewerCanEdit
  program { id name viewerRole }
  host { id name timeZone }
"""

# The public session page (the share URL): every field of the contract's GroupSession.
PUBLIC_SESSION_PAGE = (
    """
query PublicSessionPage($id: ID!) {
  groupSession(id: $id) {"""
    + SESSION_FIELDS
    + """
    guests { id name }
    participants(first: 50) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node { id isHost registeredAt participant { id name } } }
    }
  }
}
"""
)

# Dashboard > Sessions > Future: the cards, each with its participants' names.
DASHBOARD_FUTURE = """
query DashboardFuture($first: Int!) {
  dashboard {
    sessions(timeframe: FUTURE, first: $first) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges {
        cursor
        node {
          id title startsAt endsAt durationMinutes participantCount maxParticipants spotsLeft isFull status
          viewerIsHost viewerIsAttending viewerCanJoin viewerCanEdit
          host { id name }
          program { id name }
          participants(first: 50) { totalCount edges { node { id isHost participant { id name } } } }
        }
      }
    }
  }
}
"""

# A member's profile with their upcoming sessions.
PROFILE = """
query Profile($id: ID!, $first: Int!) {
  profile(userId: $id) {
    id name timeZone email
    upcomingGroupSessions(first: $first) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges {
        cursor
        node {
          id title startsAt durationMinutes participantCount maxParticipants spotsLeft isFull status
          viewerIsAttending viewerCanJoin viewerCannotJoinReasons
          program { id name }
        }
      }
    }
  }
}
"""
