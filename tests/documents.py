"""The GraphQL documents the tests share: each mutation once, selecting what any of its tests
reads. A document that only one test needs stays in that test."""

CREATE = """
mutation Create($input: CreateGroupSessionInput!) {
  createGroupSession(input: $input) {
    groupSession { id title objective startsAt endsAt durationMinutes minParticipants maxParticipants
                   participantCount spotsLeft isFull status url viewerIsHost viewerIsAttending viewerCanEdit
                   host { id name } program { id name } guests { id name } }
    userErrors { field message code }
  }
}
"""

UPDATE = """
mutation Update($input: UpdateGroupSessionInput!) {
  updateGroupSession(input: $input) {
    groupSession { id title objective startsAt endsAt durationMinutes minParticipants maxParticipants
                   participantCount spotsLeft guests { name } }
    userErrors { field message code }
  }
}
"""

CANCEL = """
mutation Cancel($id: ID!, $reason: String) {
  cancelGroupSession(input: {id: $id, reason: $reason}) {
    groupSession { id status cancellationReason viewerCanEdit viewerCanJoin participantCount }
    userErrors { field message code }
  }
}
"""

JOIN = """
mutation Join($id: ID!) {
  joinGroupSession(input: {id: $id}) {
    registration { id isHost participant { name } session { id } }
    groupSession { id participantCount spotsLeft isFull viewerIsAttending viewerCanJoin viewerCannotJoinReasons }
    userErrors { field message code }
  }
}
"""

LEAVE = """
mutation Leave($id: ID!) {
  leaveGroupSession(input: {id: $id}) {
    groupSession { id participantCount spotsLeft viewerIsAttending }
    userErrors { field message code }
  }
}
"""

SIGN_IN = """
mutation SignIn($email: String!, $password: String!) {
  signIn(input: {email: $email, password: $password}) {
    token viewer { id name email timeZone } userErrors { field message code }
  }
}
"""
