// Views that live in their own modules (pairing, camera, ...): each entry is
// [path pattern, view(root, ...groups) -> {onMessage?, refresh?, destroy?}, menu href].
// A view gets live hub messages through onMessage, like the views in app.js.
import { cameraView } from "./camera.js";
import { pairingView } from "./pairing.js";

export { walkTestBanner } from "./pairing.js";

export const EXTRA_ROUTES = [
  [/^\/pairing$/, pairingView, "/pairing"],
  [/^\/camera$/, cameraView, "/camera"],
];
