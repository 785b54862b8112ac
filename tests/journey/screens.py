"""The GraphQL a client app sends, one named operation per screen, written as its .graphql
files would be: fragments for what several screens show (a session card, its menu), the
operation with its variables, and the fragments it uses appended to its document.

Nothing here knows the server's internals: these documents are the whole client.
"""

from __future__ import annotations

# --- fragments ------------------------------------------------------------------------------

SESSION_CARD = """
fragment SessionCard on GroupSession {
  id
  title
  startsAt
  endsAt
  startsAtLocal
  timeZone
  durationMinutes
  phase
  status
  participantCount
  maxParticipants
  spotsLeft
  host { id name }
  program { id name }
  viewerIsHost
  viewerIsAttending
}
"""

SESSION_MENU = """
fragment SessionMenu on GroupSession {
  viewerCanEdit
  viewerCanReschedule
  viewerCanCancel
  viewerCanLeave
}
"""

PAGE_INFO = """
fragment PageInfoParts on PageInfo { hasNextPage hasPreviousPage startCursor endCursor }
"""

USER_ERRORS = """
fragment FormErrors on UserError { field code message }
"""

# --- sign-in ---------------------------------------------------------------------------------

SIGN_IN = """
mutation SignIn($email: String!, $password: String!) {
  signIn(input: {email: $email, password: $password}) {
    token
    viewer { id name email timeZone }
    userErrors { ...FormErrors }
  }
}
""" + USER_ERRORS

# --- create form: program picker, guest picker, submit ------------------------------------

CREATE_FORM = """
query CreateForm {
  viewer {
    id
    timeZone
    memberships { role viewerCanHost program { id name } }
  }
}
"""

GUEST_PICKER = """
query GuestPicker($programId: ID!, $search: String, $first: Int = 10, $after: String) {
  program(id: $programId) {
    members(search: $search, first: $first, after: $after) {
      totalCount
      pageInfo { ...PageInfoParts }
      nodes { id name }
    }
  }
}
""" + PAGE_INFO

CREATE_SESSION = """
mutation CreateSession($input: CreateGroupSessionInput!) {
  createGroupSession(input: $input) {
    groupSession { ...SessionCard ...SessionMenu guests { id name } }
    groupSessionEdge { cursor node { id } }
    userErrors { ...FormErrors }
  }
}
""" + SESSION_CARD + SESSION_MENU + USER_ERRORS

# --- Sessions > Future / Past, and the invitations tab ------------------------------------

SESSIONS = """
query Sessions($timeframe: Timeframe!, $role: SessionRole, $includeCancelled: Boolean = false,
               $first: Int = 20, $after: String) {
  dashboard {
    sessions(timeframe: $timeframe, role: $role, includeCancelled: $includeCancelled, first: $first, after: $after) {
      totalCount
      pageInfo { ...PageInfoParts }
      edges { cursor node { ...SessionCard ...SessionMenu } }
    }
  }
}
""" + SESSION_CARD + SESSION_MENU + PAGE_INFO

INVITATIONS = """
query Invitations($first: Int = 20, $after: String) {
  dashboard {
    sessions(timeframe: FUTURE, role: INVITED, first: $first, after: $after) {
      totalCount
      pageInfo { ...PageInfoParts }
      nodes {
        ...SessionCard
        viewerIsInvited
        viewerInvitation { status respondedAt }
      }
    }
  }
}
""" + SESSION_CARD + PAGE_INFO

RESPOND_TO_INVITATION = """
mutation RespondToInvitation($id: ID!, $accept: Boolean!) {
  respondToInvitation(input: {groupSessionId: $id, accept: $accept}) {
    invitation { status respondedAt guest { name } }
    registrationEdge { cursor node { id status participant { name } } }
    groupSession { id participantCount spotsLeft viewerIsAttending viewerIsInvited ...SessionMenu }
    userErrors { ...FormErrors }
  }
}
""" + SESSION_MENU + USER_ERRORS

# --- profile ---------------------------------------------------------------------------------

PROFILE = """
query Profile($userId: ID!, $first: Int = 10) {
  profile(userId: $userId) {
    id
    name
    email
    timeZone
    upcomingGroupSessions(first: $first) {
      totalCount
      nodes { ...SessionCard }
    }
  }
}
""" + SESSION_CARD

# --- the public page (the share URL), with its join / leave buttons ------------------------

SESSION_PAGE = """
query SessionPage($id: ID!) {
  groupSession(id: $id) {
    ...SessionCard
    ...SessionMenu
    objective
    url
    minParticipants
    isFull
    cancellationReason
    viewerIsInvited
    viewerInvitation { status }
    viewerRegistration { id status }
    viewerCanJoin
    viewerCannotJoinReasons
    participants(first: 50) {
      totalCount
      edges { node { isHost participant { name } } }
    }
    invitations { guest { name } status respondedAt }
  }
}
""" + SESSION_CARD + SESSION_MENU

JOIN_SESSION = """
mutation JoinSession($id: ID!) {
  joinGroupSession(input: {id: $id}) {
    registrationEdge { cursor node { id status participant { name } } }
    groupSession { id participantCount spotsLeft viewerIsAttending viewerCanJoin ...SessionMenu }
    userErrors { ...FormErrors }
  }
}
""" + SESSION_MENU + USER_ERRORS

LEAVE_SESSION = """
mutation LeaveSession($id: ID!) {
  leaveGroupSession(input: {id: $id}) {
    removedRegistrationId
    groupSession { id participantCount spotsLeft viewerIsAttending viewerCanJoin ...SessionMenu }
    userErrors { ...FormErrors }
  }
}
""" + SESSION_MENU + USER_ERRORS

# --- edit form and the session's menu --------------------------------------------------------

EDIT_FORM = """
query EditForm($id: ID!) {
  groupSession(id: $id) {
    id
    title
    objective
    startsAtLocal
    timeZone
    durationMinutes
    minParticipants
    maxParticipants
    guests { id name }
    ...SessionMenu
  }
}
""" + SESSION_MENU

UPDATE_SESSION = """
mutation UpdateSession($input: UpdateGroupSessionInput!) {
  updateGroupSession(input: $input) {
    groupSession { ...SessionCard ...SessionMenu }
    userErrors { ...FormErrors }
  }
}
""" + SESSION_CARD + SESSION_MENU + USER_ERRORS

CANCEL_SESSION = """
mutation CancelSession($id: ID!, $reason: String) {
  cancelGroupSession(input: {id: $id, reason: $reason}) {
    groupSession { id status phase cancellationReason ...SessionMenu }
    userErrors { ...FormErrors }
  }
}
""" + SESSION_MENU + USER_ERRORS

ALL = {
    "SignIn": SIGN_IN,
    "CreateForm": CREATE_FORM,
    "GuestPicker": GUEST_PICKER,
    "CreateSession": CREATE_SESSION,
    "Sessions": SESSIONS,
    "Invitations": INVITATIONS,
    "RespondToInvitation": RESPOND_TO_INVITATION,
    "Profile": PROFILE,
    "SessionPage": SESSION_PAGE,
    "JoinSession": JOIN_SESSION,
    "LeaveSession": LEAVE_SESSION,
    "EditForm": EDIT_FORM,
    "UpdateSession": UPDATE_SESSION,
    "CancelSession": CANCEL_SESSION,
}
