// Views that live in their own modules (pairing, camera, ...): each entry is
// [path pattern, view(root, ...groups) -> {onMessage?, refresh?, destroy?}, menu href].
// A view gets live hub messages through onMessage, like the views in app.js.
export const EXTRA_ROUTES = [];
